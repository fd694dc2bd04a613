"""``lakejobs catalog sync|ddl``: the lake's tables in the Glue Data Catalog and for Athena."""

import argparse

from lakejobs import args as job_args
from lakejobs import catalog


def _tables(args):
    return catalog.lake_tables(args.lake, args.database, args.raw_database, args.format, args.raw)


def cmd_sync(args) -> int:
    """Create or update the databases and tables, register new partitions, print what changed."""
    from lakejobs import catalog_sync

    tables = _tables(args)  # checks --lake before any AWS client is made
    glue, s3 = catalog_sync.clients(args.endpoint_url, args.region)
    report = catalog_sync.sync(tables, glue, s3, args.lake)
    print("\n".join(report.lines()))
    return 0


def cmd_ddl(args) -> int:
    """Print the Athena statements of every table."""
    print(catalog.ddl(_tables(args)), end="")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", required=True, help="the lake's S3 location: s3://bucket/prefix")
    parser.add_argument("--raw", help="raw zone location (default: <lake>/rawData)")
    parser.add_argument("--database", default=catalog.PROCESSED_DATABASE, help="database of processed and mart tables")
    parser.add_argument("--raw-database", dest="raw_database", default=catalog.RAW_DATABASE)
    parser.add_argument("--format", default="parquet", choices=catalog.FORMATS, help="format the jobs wrote")


def add_sync_arguments(sync: argparse.ArgumentParser) -> None:
    """The options of ``lakejobs catalog sync``."""
    _common(sync)
    sync.add_argument(
        "--endpoint-url",
        dest="endpoint_url",
        type=job_args.parse_endpoint_url,
        help="Glue and S3 endpoint (e.g. a moto server)",
    )
    sync.add_argument("--region", help="AWS region (default: the AWS configuration's)")


def sync_parser() -> argparse.ArgumentParser:
    """A parser of ``catalog sync``'s options alone (the catalog step sets Glue's own aside with it)."""
    parser = argparse.ArgumentParser(prog="lakejobs catalog sync", add_help=False)
    add_sync_arguments(parser)
    return parser


def register(commands) -> None:
    """Add ``catalog`` with its ``sync`` and ``ddl`` actions to the CLI's subcommands."""
    group = commands.add_parser("catalog", help="Glue Data Catalog tables of the lake: sync, ddl")
    actions = group.add_subparsers(dest="catalog_action", required=True, metavar="ACTION")
    sync = actions.add_parser("sync", help="create or update Glue databases/tables, register new partitions")
    add_sync_arguments(sync)
    sync.set_defaults(func=cmd_sync)
    ddl = actions.add_parser("ddl", help="print Athena CREATE EXTERNAL TABLE statements")
    _common(ddl)
    ddl.set_defaults(func=cmd_ddl)
