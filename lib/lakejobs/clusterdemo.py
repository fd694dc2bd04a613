"""``make cluster-demo``: the packaged pipeline on a real Spark standalone cluster, to watch.

Starts moto's S3 server and a Spark master and worker on 127.0.0.1, uploads the sample raw zone,
then ``spark-submit``s the jobs from ``dist/``: once with ``lakejobs-lib.zip`` on ``--py-files``,
once with the packed environment on ``--archives``. Prints where the Spark UI is, one line per
job, what landed in S3, and stops everything (also on failure or Ctrl-C).
"""

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from lakejobs import cluster, packaging, s3local
from lakejobs.errors import LakejobsError


def main(argv=None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lakejobs.clusterdemo", description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="dist", help="the packaged artifacts (make package)")
    parser.add_argument("--raw", default="data/sample/rawData")
    parser.add_argument("--bucket", default="lakejobs-cluster-demo")
    parser.add_argument("--pyver", default=packaging.DEFAULT_PYTHON_VERSION)
    parser.add_argument("--arch", default=packaging.DEFAULT_ARCH)
    parser.add_argument("--python", default=packaging.RUNTIME_INTERPRETERS["3.11"], help="interpreter for zip mode")
    parser.add_argument("--pause", action="store_true", help="wait for Enter before stopping the cluster")
    args = parser.parse_args(argv)
    try:
        return run_demo(args)
    except LakejobsError as error:
        print(f"cluster-demo: error: {error}", file=sys.stderr)
        return error.exit_code


def run_demo(args) -> int:
    """Start the servers, run both ways of shipping lakejobs, report, stop."""
    dist = Path(args.dist).resolve()
    lib_zip, env_archive = dist / packaging.LIB_ZIP, dist / packaging.env_archive_name(args.pyver, args.arch)
    for artifact in (lib_zip, env_archive, dist / packaging.JOBS_DIR):
        if not artifact.exists():
            raise LakejobsError(f"{artifact} is missing: run make package first")
    work = Path(tempfile.mkdtemp(prefix="lakejobs-cluster-demo-"))
    with s3local.s3_server() as env:
        import boto3

        client = boto3.client("s3")
        client.create_bucket(Bucket=args.bucket)
        uploaded = s3local.upload_sales_raw(args.bucket, Path(args.raw))
        print(f"S3 server: {env['AWS_ENDPOINT_URL']} ({uploaded} raw files in s3://{args.bucket}/rawData/)")
        print("starting a Spark master and worker on 127.0.0.1 ...", flush=True)
        with cluster.standalone_cluster(work / "spark") as running:
            print(
                f"Spark master: {running.master_url}   master UI: {running.ui_url}   worker UI: {running.worker_ui_url}"
            )
            (work / "zip-driver").mkdir()
            shippings = [
                cluster.zip_shipping(lib_zip, args.python, work / "zip-driver"),
                cluster.env_shipping(env_archive, work / "env-driver"),
            ]
            for shipping in shippings:
                run_pipeline(running, shipping, args.bucket, dist / packaging.JOBS_DIR, work)
            if args.pause:
                input("the cluster is up: press Enter to stop it ")
        print_objects(client, args.bucket)
    remove_all_but_logs(work)
    print(f"stopped the cluster and the S3 server; Spark logs are in {work}")
    return 0


def remove_all_but_logs(work: Path) -> None:
    """Delete what the run unpacked and shipped (environments, the worker's copies), keep its logs.

    The worker's folder keeps each executor's ``stdout``/``stderr``; the rest is hundreds of MB a run.
    """
    for path in sorted(work.rglob("*"), reverse=True):  # files before their folders
        if path.is_file() and not path.is_symlink() and (path.suffix == ".log" or path.name in ("stdout", "stderr")):
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def run_pipeline(running, shipping, bucket: str, jobs_dir: Path, work: Path) -> None:
    """Submit every pipeline step with ``shipping``; print one line per job."""
    lake = f"s3a://{bucket}/{shipping.name}"
    print(f"\n{shipping.name}: lakejobs shipped with {' '.join(shipping.options[:2])} -> {lake}")
    conf = cluster.s3a_submit_conf()
    for label, script, argv in cluster.pipeline_submissions(f"s3a://{bucket}/rawData", lake, jobs_dir):
        command = cluster.submit_command(running, script, argv, shipping, conf, name=f"{shipping.name}: {label}")
        started = time.monotonic()
        result = cluster.run_submit(command, shipping, work / f"{shipping.name}-{label.replace(' ', '-')}.log")
        print(
            f"  spark-submit {script.name:<20}{label:<28}{result['status']:<10}read {result['rows_read']:>4}  "
            f"written {result['rows_written']:>4}  quarantined {result['rows_quarantined']:>3}  "
            f"{time.monotonic() - started:6.1f} s",
            flush=True,
        )


def print_objects(client, bucket: str) -> None:
    """List what the jobs wrote, grouped by lake and table."""
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
    folders = Counter("/".join(key.split("/")[:3]) for key in keys if not key.startswith("rawData/"))
    print(f"\ns3://{bucket}/ holds {len(keys)} objects; written by the jobs:")
    for folder, count in sorted(folders.items()):
        print(f"  {folder:<48}{count:>6}")


if __name__ == "__main__":
    sys.exit(main())
