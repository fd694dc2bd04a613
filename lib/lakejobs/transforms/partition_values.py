"""Checks of the text values a partitioned write turns into folder names.

A partition value becomes the folder ``<column>=<value>`` (Parquet and Delta alike), escaped
as Spark escapes path names. Two kinds of text do not survive that:

- ``__HIVE_DEFAULT_PARTITION__`` and the empty text: the folder Spark writes for a null, so
  the row reads back with a null there (and a batch holding a real null as well failed with
  ``FileAlreadyExistsException``);
- a value whose folder name is longer than a file system allows (255 bytes on ext4, xfs, APFS,
  and HDFS by default): the write failed with ``Mkdirs failed``, naming neither the column nor
  the row. S3 has no such limit (a key may be 1,024 bytes), so an output on S3 is not checked.

Such a row is quarantined (``invalid_partition_value:<column>``) instead.
"""

from typing import List, Optional, Sequence
from urllib.parse import urlparse

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.datasets import Dataset
from lakejobs.io.partitions import NULL_VALUE
from lakejobs.transforms.quality import Check
from lakejobs.transforms.validation import quote_name

#: The longest folder name written (``<column>=<escaped value>``, in UTF-8 bytes).
MAX_FOLDER_NAME_BYTES = 255
#: The characters Spark escapes in a partition folder's name (``ExternalCatalogUtils.escapePathName``),
#: each written as ``%XX``: control characters, ``"#%'*/:=?\\{[]^`` and DEL.
ESCAPED = "[\\x01-\\x1f\"#%'*/:=?\\\\{\\[\\]^\\x7f]"


def folder_name_limit(output_path: str) -> Optional[int]:
    """The longest folder name an output at ``output_path`` takes: None on S3 and GCS (keys, no folders)."""
    flat_keys = urlparse(output_path).scheme in ("s3", "s3a", "s3n", "gs")  # keys of 1,024 bytes
    return None if flat_keys else MAX_FOLDER_NAME_BYTES


def folder_name_bytes(column: str) -> Column:
    """The UTF-8 length of the folder name the text value of ``column`` is written under."""
    value = F.col(quote_name(column))
    escaped = F.length(value) - F.length(F.regexp_replace(value, ESCAPED, ""))
    return F.lit(len(f"{column}=".encode())) + F.octet_length(value) + 2 * escaped


def partition_value_checks(
    dataset: Dataset, partition_by: Sequence[str], max_folder_bytes: Optional[int] = MAX_FOLDER_NAME_BYTES
) -> List[Check]:
    """(is_bad, reason, detail) for each text column of ``partition_by`` (other types give short names).

    ``max_folder_bytes``: the longest folder name the output's file system takes (None: no limit).
    """
    texts = {field.name for field in dataset.schema.fields if isinstance(field.dataType, T.StringType)}
    checks = []
    for column in (name for name in partition_by if name in texts):
        value = F.col(quote_name(column))
        names_null = F.coalesce(value.isin("", NULL_VALUE), F.lit(False))
        limit = F.lit(max_folder_bytes) if max_folder_bytes else None
        too_long = F.coalesce(folder_name_bytes(column) > limit, F.lit(False)) if limit is not None else F.lit(False)
        detail = F.when(
            names_null,
            F.concat(
                F.lit(f"{column}='"),
                value,
                F.lit("' is the folder name Spark writes for a null: it would read back as null"),
            ),
        ).otherwise(
            F.concat(
                F.lit(f"{column}='"),
                F.substring(value, 1, 60),
                F.lit(f"...' makes a folder name longer than {max_folder_bytes} bytes, which file systems refuse"),
            )
        )
        checks.append((names_null | too_long, f"invalid_partition_value:{column}", detail))
    return checks
