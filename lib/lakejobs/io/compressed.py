"""Find the compressed input file that a failed read could not decompress.

A truncated ``.gz`` (an upload cut short) fails Spark's task with ``EOFException: Unexpected end
of input stream``, and the task's error does not say which file it was reading. When a run
fails that way, ``first_undecompressable`` reads the batch's compressed files through Hadoop's
codecs, in the JVM, until one fails: the run's one error line can then name it. Only on that
failure path; a run that succeeds never pays for it.
"""

from typing import TYPE_CHECKING, Iterable, Optional, Tuple

from lakejobs.errors import root_cause

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: Root causes (``errors.root_cause``) of a stream that could not be decompressed.
DECOMPRESSION_CAUSES = ("EOFException:", "ZipException:", "IOException:")


def may_be_decompression(cause: str) -> bool:
    """Tell whether a run's root cause may come from a compressed file that cannot be read."""
    return cause.startswith(DECOMPRESSION_CAUSES)


def first_undecompressable(spark: "SparkSession", paths: Iterable[str]) -> Optional[Tuple[str, str]]:
    """The first of ``paths`` with a compression codec that cannot be read to its end, and why.

    Files without a codec (by extension, as Spark decides) are skipped; None when every
    compressed file reads to its end.
    """
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    codecs = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf)
    for path in paths:
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        codec = codecs.getCodec(hadoop_path)
        if codec is None:
            continue
        problem = _read_to_end(jvm, codec, hadoop_path.getFileSystem(conf), hadoop_path)
        if problem is not None:
            return path, problem
    return None


def _read_to_end(jvm, codec, filesystem, hadoop_path) -> Optional[str]:
    """None when the file decompresses to its end; else Java's ``Type: message``."""
    stream = None
    try:
        stream = codec.createInputStream(filesystem.open(hadoop_path))
        jvm.org.apache.commons.io.IOUtils.consume(stream)
        return None
    except Exception as error:  # noqa: BLE001 - py4j's error carries Java's; reported, not raised
        return root_cause(error)
    finally:
        if stream is not None:
            stream.close()
