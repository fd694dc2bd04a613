"""Create or update the lake's Glue databases and tables, and keep their partitions in step.

No crawler: table definitions come from ``lakejobs.catalog``; partitions are the
``key=value`` folders found by listing the table's objects in S3. Only the ones Glue does not
know yet are sent to ``BatchCreatePartition`` (100 at a time), so a rerun adds nothing; the
ones Glue knows that no longer hold a file (a month a rebuilt table no longer has) are removed
with ``BatchDeletePartition`` (25 at a time); the ones Glue has pointing elsewhere are
re-pointed in place with ``BatchUpdatePartition`` (100 at a time), so Athena never misses them.
"""

import dataclasses
import logging
import os
import re
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from lakejobs.catalog import Table
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.io.table_folder import is_commit_entry

LOG = logging.getLogger(__name__)
BATCH = 100
DELETE_BATCH = 25


@dataclasses.dataclass
class SyncReport:
    """What a sync did, by table (``database.table``)."""

    databases_created: List[str] = dataclasses.field(default_factory=list)
    tables_created: List[str] = dataclasses.field(default_factory=list)
    tables_updated: List[str] = dataclasses.field(default_factory=list)
    tables_unchanged: List[str] = dataclasses.field(default_factory=list)
    partitions_added: Dict[str, int] = dataclasses.field(default_factory=dict)
    partitions_existing: Dict[str, int] = dataclasses.field(default_factory=dict)
    partitions_removed: Dict[str, int] = dataclasses.field(default_factory=dict)
    partitions_moved: Dict[str, int] = dataclasses.field(default_factory=dict)

    def lines(self) -> List[str]:
        """One human-readable line per table, then a totals line."""
        out = [f"database {name}: created" for name in self.databases_created]
        actions = {"created": self.tables_created, "updated": self.tables_updated, "unchanged": self.tables_unchanged}
        for name, action in [(name, action) for action, names in actions.items() for name in names]:
            partitions = ""
            if name in self.partitions_added:
                added, existing = self.partitions_added[name], self.partitions_existing[name]
                partitions = f", partitions: {added} added, {existing} already registered"
                removed, moved = self.partitions_removed.get(name, 0), self.partitions_moved.get(name, 0)
                partitions += f", {removed} removed (no file left)" if removed else ""
                partitions += f", {moved} re-pointed to this lake" if moved else ""
            out.append(f"table {name}: {action}{partitions}")
        removed, moved = sum(self.partitions_removed.values()), sum(self.partitions_moved.values())
        out.append(
            f"{len(self.tables_created)} tables created, {len(self.tables_updated)} updated, "
            f"{len(self.tables_unchanged)} unchanged, {sum(self.partitions_added.values())} partitions added"
            + (f", {removed} removed (no file left)" if removed else "")
            + (f", {moved} re-pointed to this lake" if moved else "")
        )
        return out


def clients(endpoint_url: Optional[str] = None, region: Optional[str] = None):
    """boto3 ``glue`` and ``s3`` clients (``endpoint_url`` for moto or another compatible API).

    Raises ``LakejobsError`` in one line when this Python has no boto3: a packed environment
    (EMR Serverless ``spark.archives``, Glue ``--python-virtual-env``) replaces the runtime's
    packages, so boto3 must be packed into it.
    """
    try:
        import boto3
    except ImportError:
        raise LakejobsError(
            f"boto3 is not importable by {sys.executable}: in a packed environment add it "
            "(make package packs it: env/requirements-pyX.Y.txt)"
        ) from None

    # boto3 reads AWS_DEFAULT_REGION and the config file, not AWS_REGION (which AWS's runtimes set).
    options = {"endpoint_url": endpoint_url, "region_name": region or os.environ.get("AWS_REGION")}
    return boto3.client("glue", **options), boto3.client("s3", **options)


def sync(tables: Sequence[Table], glue, s3, lake: str) -> SyncReport:
    """Create or update every database and table of ``lake`` (as given), then register partitions found in S3.

    Nothing is changed when a table's folder holds the other format (see ``check_formats``), or
    when the lake holds none of its tables (see ``refuse_a_lake_without_tables``).
    """
    check_formats(tables, s3)
    refuse_a_lake_without_tables(tables, s3, lake)
    report = SyncReport()
    for database in dict.fromkeys(table.database for table in tables):
        if _ensure_database(glue, database):
            report.databases_created.append(database)
    for table in tables:
        qualified = f"{table.database}.{table.name}"
        action = _upsert_table(glue, table)
        tables = {"created": report.tables_created, "updated": report.tables_updated}
        tables.get(action, report.tables_unchanged).append(qualified)
        if table.partition_keys:
            added, existing, removed, moved = register_partitions(glue, s3, table)
        else:  # a table declared without partitions (Delta) keeps none an earlier Parquet sync registered
            added = existing = moved = 0
            removed = remove_partitions(glue, table, registered_partitions(glue, table))
        if table.partition_keys or removed:
            report.partitions_added[qualified] = added
            report.partitions_existing[qualified] = existing
            report.partitions_removed[qualified] = removed
            report.partitions_moved[qualified] = moved
    return report


def check_formats(tables: Sequence[Table], s3) -> None:
    """Raise ``LakejobsError`` when a table's folder in S3 holds the other format than ``--format``.

    A Delta table registered as Parquet reads every data file in its folder, the ones its log has
    removed too: wrong rows without an error. A ``_delta_log/`` without a commit (a first Delta
    write stopped before it committed) is no table in either format. A folder without written
    files is not checked.
    """
    for table in tables:
        if table.kind not in ("parquet", "delta"):
            continue
        log = _delta_log_state(s3, table.location)
        if log == "uncommitted":
            raise LakejobsError(
                f"{table.location}/_delta_log/ holds no Delta commit (a first Delta write stopped before it "
                "committed): run that write again, then sync"
            )
        if table.kind == "parquet" and log == "committed":
            raise LakejobsError(
                f"{table.location} is a Delta table (it has a _delta_log/): sync it with --format delta"
            )
        if table.kind == "delta" and log is None and _holds_objects(s3, f"{table.location}/"):
            raise LakejobsError(
                f"{table.location} is not a Delta table (it has no _delta_log/): sync it with --format parquet"
            )


def refuse_a_lake_without_tables(tables: Sequence[Table], s3, lake: str) -> None:
    """Raise ``UsageError`` when no processed or mart table's folder below ``lake`` holds a file.

    A mistyped ``--lake`` (``s3://b/lake/typo``) repointed every table to an empty folder and
    removed every partition as "no file left". The raw tables do not count: ``--raw`` may name
    a raw zone elsewhere.
    """
    written = [table for table in tables if table.kind in ("parquet", "delta")]
    if any(_holds_objects(s3, f"{table.location}/") for table in written):
        return
    raise UsageError(
        f"--lake {lake} holds none of the tables it would register (no file below its processedData/ or mart/): "
        "give the lake the jobs wrote; nothing was changed in the catalog"
    )


def _missing_bucket(bucket: str) -> UsageError:
    """A usage error, as elsewhere: the bucket is mistyped, or the lake not made yet."""
    return UsageError(f"bucket does not exist: s3://{bucket}")


def _delta_log_state(s3, location: str) -> Optional[str]:
    """What ``location``'s ``_delta_log/`` holds: ``None`` (no log), ``"committed"`` or ``"uncommitted"``."""
    bucket, prefix = _bucket_and_prefix(f"{location}/_delta_log/")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    found = False
    try:
        for page in pages:
            for entry in page.get("Contents", []):
                found = True
                if is_commit_entry(entry["Key"][len(prefix) :]):
                    return "committed"
    except s3.exceptions.NoSuchBucket:
        raise _missing_bucket(bucket) from None
    return "uncommitted" if found else None


def _holds_objects(s3, location: str) -> bool:
    bucket, prefix = _bucket_and_prefix(location)
    try:
        return s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0) > 0
    except s3.exceptions.NoSuchBucket:
        raise _missing_bucket(bucket) from None


def _ensure_database(glue, name: str) -> bool:
    try:
        glue.get_database(Name=name)
        return False
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput={"Name": name, "Description": "lakejobs lake tables"})
        LOG.info("created Glue database %s", name)
        return True


def _upsert_table(glue, table: Table) -> str:
    """Create the table, or update it in place when its definition differs; say which.

    An unchanged table is left alone: every ``UpdateTable`` archives a table version, and Glue
    limits how many a table and an account keep.
    """
    wanted = table.table_input()
    try:
        found = glue.get_table(DatabaseName=table.database, Name=table.name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=table.database, TableInput=wanted)
        return "created"
    if _covers(found, wanted):
        return "unchanged"
    glue.update_table(DatabaseName=table.database, TableInput=wanted)
    return "updated"


def _covers(found, wanted, key: str = "") -> bool:
    """Tell whether ``found`` (what Glue returns) holds every field of ``wanted`` with its value.

    Fields Glue adds (``CreateTime``, a descriptor's ``Compressed``, ...) do not count; in a
    list, each item must be equal; a ``Parameters`` map must be equal as a whole (a parameter
    the definition dropped, such as ``skip.header.line.count``, must go).
    """
    if isinstance(wanted, dict) and key != "Parameters":
        return isinstance(found, dict) and all(
            name in found and _covers(found[name], wanted[name], name) for name in wanted
        )
    return found == wanted


def _bucket_and_prefix(location: str) -> Tuple[str, str]:
    bucket, _, prefix = location[len("s3://") :].partition("/")
    return bucket, (prefix.rstrip("/") + "/") if prefix else ""


def partitions_in_s3(s3, table: Table) -> Set[Tuple[str, ...]]:
    """Partition values of every data file below the table's location (``k=v/`` folders in key order)."""
    bucket, prefix = _bucket_and_prefix(table.location)
    names = [name for name, _kind in table.partition_keys]
    found = set()
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    except s3.exceptions.NoSuchBucket:
        raise _missing_bucket(bucket) from None
    strays = []
    for key in keys:
        values = _partition_values(key[len(prefix) :], names)
        if values is not None and _partition_folder_values(table, values):
            found.add(values)
        elif values is not None:
            strays.append(key)
    if strays:
        LOG.warning(
            "%s.%s: skipped %d file(s) in folders no job writes (a value that is empty or not of its key's type), "
            "e.g. s3://%s/%s",
            table.database,
            table.name,
            len(strays),
            bucket,
            strays[0],
        )
    return found


#: Partition key types whose values are whole numbers; Spark writes a null as this folder name.
WHOLE_NUMBER_KINDS = ("tinyint", "smallint", "int", "bigint")
NULL_FOLDER_VALUE = "__HIVE_DEFAULT_PARTITION__"


def _partition_folder_values(table: Table, values: Sequence[str]) -> bool:
    """Tell whether a folder's values are ones a job writes: not empty, and whole numbers for integer keys.

    Glue refuses an empty value (``ParamValidationError``, part-way through the sync), and Athena
    a table holding ``order_year=abc`` for an ``int`` key (``HIVE_INVALID_PARTITION_VALUE``).
    """
    return all(
        value and (kind not in WHOLE_NUMBER_KINDS or value == NULL_FOLDER_VALUE or re.fullmatch(r"-?\d+", value))
        for (_name, kind), value in zip(table.partition_keys, values)
    )


def _partition_values(relative_key: str, names: Sequence[str]) -> Optional[Tuple[str, ...]]:
    """The partition values of a data file's key, or None.

    None for a folder marker (``k=v/``) and for a file Spark skips (its name, or a folder below
    the partition folders, starts with ``_`` or ``.``).
    """
    parts = relative_key.split("/")
    below = parts[len(names) :]
    if not below or any(part == "" or part.startswith(("_", ".")) for part in below):
        return None
    pairs = [part.partition("=") for part in parts[: len(names)]]
    if [key for key, _eq, _value in pairs] != list(names):
        return None
    return tuple(value for _key, _eq, value in pairs)


def registered_partitions(glue, table: Table) -> Dict[Tuple[str, ...], str]:
    """Partition values Glue already has for ``table``, and where each points."""
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=table.database, TableName=table.name)
    return {
        tuple(partition["Values"]): partition.get("StorageDescriptor", {}).get("Location", "")
        for page in pages
        for partition in page["Partitions"]
    }


def partition_location(table: Table, values: Sequence[str]) -> str:
    """Where one partition's files are: ``<location>/k=v/.../``."""
    path = "/".join(f"{name}={value}" for (name, _kind), value in zip(table.partition_keys, values))
    return f"{table.location}/{path}/"


def partition_input(table: Table, values: Sequence[str]) -> Dict:
    """``PartitionInput`` of one partition: the table's storage at ``partition_location``."""
    return {"Values": list(values), "StorageDescriptor": table.storage_descriptor(partition_location(table, values))}


def remove_partitions(glue, table: Table, values_of_each: Iterable[Tuple[str, ...]]) -> int:
    """Remove these registered partitions of ``table``; return how many."""
    gone = sorted(values_of_each, key=_sort_key)
    for batch in _chunks(gone, DELETE_BATCH):
        response = glue.batch_delete_partition(
            DatabaseName=table.database,
            TableName=table.name,
            PartitionsToDelete=[{"Values": list(values)} for values in batch],
        )
        _raise_batch_errors(response, f"BatchDeletePartition on {table.name}", "EntityNotFoundException")
    return len(gone)


def register_partitions(glue, s3, table: Table) -> Tuple[int, int, int, int]:
    """Register the partitions in S3 that Glue lacks, remove those without a file left.

    A partition Glue has but pointing elsewhere (the lake moved to another bucket or prefix,
    or another deployment registered it) is re-pointed here in place, in one call per 100
    partitions: a failed call leaves it registered where it was, never missing.

    Returns (added, already registered, removed, re-pointed).
    """
    present = partitions_in_s3(s3, table)
    registered = registered_partitions(glue, table)
    known = {
        values
        for values, location in registered.items()
        if location.rstrip("/") == partition_location(table, values).rstrip("/")
    }
    moved = sorted((set(registered) - known) & present, key=_sort_key)
    gone = set(registered) - present
    remove_partitions(glue, table, gone)
    for batch in _chunks(moved, BATCH):
        response = glue.batch_update_partition(
            DatabaseName=table.database,
            TableName=table.name,
            Entries=[
                {"PartitionValueList": list(values), "PartitionInput": partition_input(table, values)}
                for values in batch
            ],
        )
        _raise_batch_errors(response, f"BatchUpdatePartition on {table.name}")
    new = sorted(present - set(registered), key=_sort_key)
    for batch in _chunks(new, BATCH):
        response = glue.batch_create_partition(
            DatabaseName=table.database,
            TableName=table.name,
            PartitionInputList=[partition_input(table, values) for values in batch],
        )
        _raise_batch_errors(response, f"BatchCreatePartition on {table.name}", "AlreadyExistsException")
    added = len(new)
    LOG.info(
        "%s.%s: %d partitions added, %d known, %d removed, %d re-pointed",
        table.database,
        table.name,
        added,
        len(present & known),
        len(gone),
        len(moved),
    )
    return added, len(present & known), len(gone), len(moved)


def _raise_batch_errors(response: Dict, call: str, tolerated: Optional[str] = None) -> None:
    """Raise ``LakejobsError`` for the first error of a batch call other than ``tolerated``.

    Glue reports a batch's failed entries in ``Errors`` (the call itself succeeds), and its
    ``ErrorDetail`` fields are optional. The partition's values are in ``PartitionValues``
    (create, delete) or ``PartitionValueList`` (update).
    """
    for error in response.get("Errors", []):
        detail = error.get("ErrorDetail", {})
        if tolerated is None or detail.get("ErrorCode") != tolerated:
            values = ", ".join(error.get("PartitionValues") or error.get("PartitionValueList") or [])
            raise LakejobsError(
                f"{call}: partition ({values}): {detail.get('ErrorCode', 'error')}: {detail.get('ErrorMessage', '')}"
            )


def _sort_key(values: Tuple[str, ...]):
    return tuple((0, int(v), v) if v.lstrip("-").isdigit() else (1, 0, v) for v in values)


def _chunks(items: List, size: int) -> Iterable[List]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
