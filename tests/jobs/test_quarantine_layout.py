"""The quarantine keeps one folder per source file: no run loses the bad rows of another."""

import pytest
from chispa import assert_df_equality

from lakejobs.generate_field import TAXI_COLUMNS
from lakejobs.io.quarantine import EARLIER_LAYOUT, source_value, with_source
from tests.conftest import expected_orders
from tests.jobs import test_taxi_trips as taxi
from tests.jobs.test_csv_to_parquet import BAD_LINES, GOOD_LINES, run_job

GOOD_2014 = [line for line in GOOD_LINES if b",5/1/2014," in line]
GOOD_2011 = [line for line in GOOD_LINES if b"/2011," in line]
BAD_A, BAD_B = list(BAD_LINES)[:3], list(BAD_LINES)[3:7]


def write_csv(folder, name, lines):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"\n".join(_bytes(line) for line in lines) + b"\n")
    return folder


def _bytes(line):
    return line if isinstance(line, bytes) else line.encode("utf-8")


def taxi_header():
    return ",".join(TAXI_COLUMNS)


def argv(raw, out, *extra):
    return [
        "--dataset",
        "orders",
        "--input_path",
        str(raw),
        "--output_path",
        str(out / "orders"),
        "--quarantine_path",
        str(out / "quarantine"),
        "--max_bad_fraction",
        "0.9",
        *extra,
    ]


def quarantined(spark, out):
    return spark.read.json(str(out / "quarantine")).select("raw_line", "run_id", "source")


def source_of(folder, name):
    return source_value((folder / name).absolute().as_uri())  # file:///... as Spark names files


def expected_rows(spark, lines, run_id, source):
    rows = [(_bytes(line).decode("utf-8", "replace"), run_id, source) for line in lines]
    return spark.createDataFrame(rows, "raw_line string, run_id string, source string")


def test_source_value_matches_the_folder_spark_computes(spark):
    urls = [
        "file:///data/raw/orders-00000.csv",
        "s3a://bucket/raw/orders/in%20dir/f%201%25.csv",
        "s3a://bucket/raw/a+b%C3%A9(1).csv",
        "file:///data/" + "long-name-" * 8 + ".csv",
        "file:///other/raw/orders-00000.csv",
    ]
    frame = spark.createDataFrame([(url,) for url in urls], "source_file string").transform(with_source)
    expected = spark.createDataFrame([(url, source_value(url)) for url in urls], "source_file string, source string")
    assert_df_equality(frame, expected, ignore_nullable=True)
    # The name's first 40 characters, then the first 12 hex digits of the URL's SHA-256: pinned,
    # since a rerun finds its file's earlier folder by recomputing them.
    assert source_value(urls[1]) == "f_201_25.csv-d7f1ef0ca208"
    assert source_value(urls[3]) == "long-name-long-name-long-name-long-name--f4c83e2d347b"
    assert source_value(urls[0]) != source_value(urls[4])  # one name, two folders: apart


def test_a_partitioned_output_keeps_every_runs_bad_rows_and_a_reread_file_replaces_its_own(spark, tmp_path):
    raw_a = write_csv(tmp_path / "raw_a", "orders-a.csv", GOOD_2014 + BAD_A)
    raw_b = write_csv(tmp_path / "raw_b", "orders-b.csv", GOOD_2011 + BAD_B)
    out = tmp_path / "out"
    first = run_job(spark, argv(raw_a, out))
    second = run_job(spark, argv(raw_b, out))
    assert (first.rows_quarantined, second.rows_quarantined) == (3, 4)
    source_a, source_b = source_of(raw_a, "orders-a.csv"), source_of(raw_b, "orders-b.csv")
    expected = expected_rows(spark, BAD_A, first.run_id, source_a).union(
        expected_rows(spark, BAD_B, second.run_id, source_b)
    )
    assert_df_equality(quarantined(spark, out), expected, ignore_row_order=True, ignore_nullable=True)
    published = spark.read.parquet(str(out / "orders"))  # both runs' good rows, in their year partitions
    assert_df_equality(
        published, expected_orders(spark, GOOD_2014 + GOOD_2011), ignore_row_order=True, ignore_nullable=True
    )

    write_csv(raw_a, "orders-a.csv", GOOD_2014)  # the file fixed and converted again: its bad rows go
    third = run_job(spark, argv(raw_a, out))
    assert third.rows_quarantined == 0
    expected_b = expected_rows(spark, BAD_B, second.run_id, source_b)
    assert_df_equality(quarantined(spark, out), expected_b, ignore_row_order=True, ignore_nullable=True)
    assert sorted(path.name for path in (out / "quarantine").iterdir() if not path.name.startswith(("_", "."))) == [
        f"source={source_b}"
    ]
    published = spark.read.parquet(str(out / "orders"))  # run b's year untouched, a's rewritten
    assert_df_equality(
        published, expected_orders(spark, GOOD_2014 + GOOD_2011), ignore_row_order=True, ignore_nullable=True
    )


def test_an_output_replaced_whole_replaces_the_whole_quarantine(spark, tmp_path):
    raw_a = write_csv(tmp_path / "raw_a", "items-a.csv", [b"1,one", b"x,bad"])
    raw_b = write_csv(tmp_path / "raw_b", "items-b.csv", [b"2,two", b"y,bad", b"z,bad"])
    out = tmp_path / "out"
    schema = ["--schema", "id INT NOT NULL, name STRING", "--max_bad_fraction", "0.9"]
    paths = ["--output_path", str(out / "items"), "--quarantine_path", str(out / "quarantine")]
    run_job(spark, [*schema, *paths, "--input_path", str(raw_a)])
    second = run_job(spark, [*schema, *paths, "--input_path", str(raw_b)])
    expected = expected_rows(spark, [b"y,bad", b"z,bad"], second.run_id, source_of(raw_b, "items-b.csv"))
    assert_df_equality(quarantined(spark, out), expected, ignore_row_order=True, ignore_nullable=True)
    only_b = spark.createDataFrame([(2, "two")], "id int, name string")  # the unpartitioned table: run b's row only
    assert_df_equality(spark.read.parquet(str(out / "items")), only_b, ignore_nullable=True)


@pytest.mark.parametrize("earlier", ["part-00000-old.json", "batch=0123abcd/part-00000-old.json"])
def test_a_quarantine_of_the_earlier_layout_is_moved_aside_not_lost(spark, tmp_path, earlier):
    out = tmp_path / "out"
    old_file = out / "quarantine" / earlier
    old_file.parent.mkdir(parents=True)
    old_file.write_text('{"raw_line": "old bad line", "run_id": "r0"}\n')
    raw_a = write_csv(tmp_path / "raw_a", "orders-a.csv", GOOD_2014 + BAD_A)
    result = run_job(spark, argv(raw_a, out))
    expected = expected_rows(spark, BAD_A, result.run_id, source_of(raw_a, "orders-a.csv")).union(
        spark.createDataFrame(
            [("old bad line", "r0", EARLIER_LAYOUT.split("=")[1])], "raw_line string, run_id string, source string"
        )
    )
    assert_df_equality(quarantined(spark, out), expected, ignore_row_order=True, ignore_nullable=True)
    assert (out / "quarantine" / EARLIER_LAYOUT / earlier.replace("/", "_")).exists()


def test_a_field_job_keeps_the_bad_trips_of_a_file_it_does_not_read_again(spark, tmp_path):
    bad = list(taxi.BAD)
    raw_a = write_csv(tmp_path / "raw_a", "trips-a.csv", [taxi_header(), *taxi.GOOD[:1], *bad[:2]])
    raw_b = write_csv(tmp_path / "raw_b", "trips-b.csv", [taxi_header(), *taxi.GOOD[1:], *bad[2:]])
    out = tmp_path / "out"
    paths = ["--output_path", str(out / "trips"), "--quarantine_path", str(out / "quarantine")]
    first = taxi.run_job(spark, ["--input_path", str(raw_a), *paths, "--max_bad_fraction", "0.9"])
    second = taxi.run_job(spark, ["--input_path", str(raw_b), *paths, "--max_bad_fraction", "0.9"])
    assert (first.rows_written, first.rows_quarantined, second.rows_written, second.rows_quarantined) == (
        1,
        2,
        len(taxi.GOOD) - 1,
        len(bad) - 2,
    )
    # (A trip that typed but is impossible is kept as its typed row in JSON: compared by reason.)
    rows = [(taxi.BAD[line], first.run_id, source_of(raw_a, "trips-a.csv")) for line in bad[:2]]
    rows += [(taxi.BAD[line], second.run_id, source_of(raw_b, "trips-b.csv")) for line in bad[2:]]
    expected = spark.createDataFrame(rows, "reason string, run_id string, source string")
    actual = spark.read.json(str(out / "quarantine")).select("reason", "run_id", "source")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    trips = taxi.expected_trips(spark, taxi.GOOD)  # both runs' trips published
    published = spark.read.parquet(str(out / "trips")).select(*trips.columns)
    assert_df_equality(published, trips, ignore_row_order=True, ignore_nullable=True)
