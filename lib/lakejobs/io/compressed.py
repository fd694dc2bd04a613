"""Find the compressed input file that a failed read could not decompress.

A truncated ``.gz`` (an upload cut short) fails Spark's task with ``EOFException: Unexpected end
of input stream``, and the task's error does not say which file it was reading. When a run
fails that way, ``first_undecompressable`` reads the batch's compressed files through Hadoop's
codecs, in the JVM, until one fails: the run's one error line can then name it. Only on that
failure path; a run that succeeds never pays for it.
"""

from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from lakejobs.errors import root_cause
from lakejobs.fs import FileInfo, local_path

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: Root causes (``errors.root_cause``) of a stream that could not be decompressed: their type,
#: or words of their message (Hadoop's gzip, zlib and bzip2 streams).
DECOMPRESSION_TYPES = ("EOFException:", "ZipException:")
DECOMPRESSION_WORDS = ("gzip", "zlib", "bzip2", "compress", "end of input stream")
#: The most compressed bytes the search reads again: past it, the run's error stands as it is.
SEARCH_LIMIT_BYTES = 8 << 30


def may_be_decompression(cause: str) -> bool:
    """Tell whether a run's root cause may be a compressed file that cannot be read.

    Not when the cause already names the file Spark was reading (``(reading ...)``).
    """
    if "(reading " in cause:
        return False
    return cause.startswith(DECOMPRESSION_TYPES) or any(word in cause.lower() for word in DECOMPRESSION_WORDS)


def first_undecompressable(spark: "SparkSession", files: Sequence[FileInfo]) -> Optional[Tuple[str, str]]:
    """The first of ``files`` with a compression codec that cannot be read to its end, and why.

    Files without a codec (by extension, as Spark decides) are skipped. None when every
    compressed file reads to its end, when they hold more than ``SEARCH_LIMIT_BYTES``, or
    when the search itself fails (the run's own error then stands).
    """
    try:
        jvm = spark.sparkContext._jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        codecs = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf)
        compressed = [(info, codecs.getCodec(jvm.org.apache.hadoop.fs.Path(info.path))) for info in files]
        compressed = [(info, codec) for info, codec in compressed if codec is not None]
        if sum(info.size for info, _codec in compressed) > SEARCH_LIMIT_BYTES:
            return None
        for info, codec in compressed:
            problem = _read_to_end(jvm, conf, codec, info.path)
            if problem is not None:
                return info.path, problem
    except Exception:  # noqa: BLE001 - a search that fails explains nothing; the run's error stands
        return None
    return None


def _read_to_end(jvm, conf, codec, path: str) -> Optional[str]:
    """None when the file decompresses to its end; else Java's ``Type: message``."""
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    raw = hadoop_path.getFileSystem(conf).open(hadoop_path)
    try:
        jvm.org.apache.commons.io.IOUtils.consume(codec.createInputStream(raw))
        return None
    except Exception as error:  # noqa: BLE001 - py4j's error carries Java's; reported, not raised
        return root_cause(error)
    finally:
        raw.close()


def broken_archive(spark: "SparkSession", error: BaseException, files: Sequence[FileInfo]) -> Optional[str]:
    """``<file> cannot be decompressed (<why>); nothing was published`` when that caused ``error``, else None.

    A truncated ``.gz`` fails its task with ``EOFException: Unexpected end of input stream``,
    which does not say which file: the first of ``files`` that cannot be read to its end does.
    """
    found = first_undecompressable(spark, files) if may_be_decompression(root_cause(error)) else None
    if found is None:
        return None
    path, problem = found
    return f"{local_path(path)} cannot be decompressed ({problem}); nothing was published"
