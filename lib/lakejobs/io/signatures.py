"""Refuse an input file whose first bytes say it is compressed while its name does not.

Spark picks a decompressor by a file's name (``.gz``, ``.bz2``, ``.deflate``, ``.zst``): a gzip
file named ``orders.csv`` or ``orders.csv.gzip`` is read as text, its compressed bytes become a
few ``malformed_record`` rows of junk (300 lines gave 69), and its lines are in neither the table
nor the quarantine, whose copy of the junk cannot even give the bytes back (invalid UTF-8 is
replaced). ``refuse_compressed_content`` reads the first bytes of each file of a batch that has
no codec suffix, and stops the run naming the file.
"""

import concurrent.futures
import re
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from lakejobs import fs
from lakejobs.errors import UsageError
from lakejobs.io.input_folder import CODEC_SUFFIXES

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: (first bytes, what they start, what to do): gzip's magic and its one method (deflate), bzip2's
#: magic with its block size and block magic, zstd's frame magic, and archives Spark cannot open.
SIGNATURES = (
    (re.compile(rb"\x1f\x8b\x08"), "gzip-compressed", "name it with .gz at the end"),
    (re.compile(rb"BZh[1-9]1AY&SY"), "bzip2-compressed", "name it with .bz2 at the end"),
    (re.compile(rb"\x28\xb5\x2f\xfd"), "zstd-compressed", "name it with .zst at the end"),
    (re.compile(rb"PK\x03\x04"), "a zip archive", "extract its files"),
    (re.compile(rb"\xfd7zXZ\x00"), "xz-compressed", "decompress it, or compress it with gzip"),
    (re.compile(rb"7z\xbc\xaf\x27\x1c"), "a 7z archive", "extract its files"),
)
#: How many first bytes are read: the longest signature.
SIGNATURE_BYTES = 10
#: Files whose first bytes are read at once, on a store other than the local disk (one request each).
PARALLEL_READS = 16
#: Named with a suffix Spark decompresses by: such files are not read.
_DECOMPRESSED = re.compile(rf".*\.({'|'.join(CODEC_SUFFIXES)})")


def refuse_compressed_content(spark: "SparkSession", files: Sequence[fs.FileInfo]) -> None:
    """Raise ``UsageError`` naming the first of ``files`` whose first bytes are a compressed format's.

    Files named with a suffix Spark decompresses by, and empty files, are not read.
    """
    checked = [info.path for info in files if info.size > 0 and not _DECOMPRESSED.fullmatch(info.path)]
    found = _first_compressed(spark, checked)
    if found is not None:
        path, (kind, action) = found
        path = fs.local_path(path) if fs.is_local(path) else path
        raise UsageError(
            f"input file {path} is {kind} (its first bytes say so), but Spark picks a decompressor by the file's "
            f"name and would read its bytes as text: {action}; nothing was read"
        )


def _signature(head: bytes) -> Optional[Tuple[str, str]]:
    return next(((kind, action) for magic, kind, action in SIGNATURES if magic.match(head)), None)


def _first_compressed(spark: "SparkSession", paths: List[str]) -> Optional[Tuple[str, Tuple[str, str]]]:
    """The first of ``paths`` whose first bytes are a signature, with it; remote files read in parallel.

    Once one is found, the reads not started yet are cancelled (a full run over thousands of S3
    files does not pay for the rest).
    """
    if all(fs.is_local(path) for path in paths):
        found = ((path, _signature(_local_head(path))) for path in paths)
        return next(((path, signature) for path, signature in found if signature), None)
    pool = concurrent.futures.ThreadPoolExecutor(PARALLEL_READS)
    try:
        futures = [pool.submit(_hadoop_head, spark, path) for path in paths]
        for path, future in zip(paths, futures):
            signature = _signature(future.result())
            if signature:
                return path, signature
        return None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _local_head(path: str) -> bytes:
    with open(fs.local_path(path), "rb") as handle:
        return handle.read(SIGNATURE_BYTES)


def _hadoop_head(spark: "SparkSession", path: str) -> bytes:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    stream = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).open(hadoop_path)
    try:
        return bytes(stream.readNBytes(SIGNATURE_BYTES))
    finally:
        stream.close()
