"""``make run-s3``: the sales pipeline on S3, end to end, against a local S3 API server.

Starts moto's S3 server on loopback, uploads the sample raw zone with boto3, runs the pipeline
on ``s3a://`` paths in one Spark session, lists what was written, and stops the server.
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

from lakejobs import pipeline, s3local, session


def main(argv=None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lakejobs.s3demo", description=__doc__)
    parser.add_argument("--raw", default="data/sample/rawData")
    parser.add_argument("--bucket", default="lakejobs-demo")
    parser.add_argument("--format", default="parquet", choices=("parquet", "delta"))
    args = parser.parse_args(argv)
    with s3local.s3_server() as env:
        import boto3

        print(f"S3 server: {env['AWS_ENDPOINT_URL']}")
        client = boto3.client("s3")
        client.create_bucket(Bucket=args.bucket)
        uploaded = s3local.upload_sales_raw(args.bucket, Path(args.raw))
        print(f"uploaded {uploaded} raw files to s3://{args.bucket}/rawData/")
        spark = session.build_session("lakejobs-s3-demo", "local")
        session.configure_s3a(spark)
        lake = f"s3a://{args.bucket}"
        results = pipeline.run_pipeline(spark, f"{lake}/rawData", lake, args.format)
        labels = [label for label, _m, _a in pipeline.pipeline_steps(lake, lake)]
        print(pipeline.summary_table(results, labels))
        keys = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=args.bucket)
            for item in page.get("Contents", [])
        ]
        folders = Counter("/".join(key.split("/")[:2]) for key in keys)
        print(f"s3://{args.bucket}/ now holds {len(keys)} objects:")
        for folder, count in sorted(folders.items()):
            print(f"  {folder:<40}{count:>6}")
        spark.stop()
    print("S3 server stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
