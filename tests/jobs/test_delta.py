"""Delta Lake tables: MERGE on keys, idempotent reruns, read back by an independent reader (delta-rs)."""

import json
import shutil
import sys
from decimal import Decimal

import pyarrow.parquet as pq
from chispa import assert_df_equality
from deltalake import DeltaTable as RustDeltaTable

from lakejobs import cli
from lakejobs.io import delta as delta_io
from lakejobs.io.delta import merge_condition, merge_delta, plain_columns_written, table_history
from lakejobs.jobs import csv_to_parquet
from lakejobs.pipeline import pipeline_steps, run_pipeline
from lakejobs.schemas import CUSTOMERS, ORDERS
from tests.conftest import ROOT, SAMPLE_RAW, expected_orders, expected_orders_of_rows, read_raw_rows
from tests.jobs.test_csv_to_parquet import ORDERS_WITHOUT_DICTIONARY
from tests.parquet_layout import columns_without_dictionary


def independent_rows(path, columns):
    """Rows of a Delta table read by delta-rs (no Spark), sorted."""
    table = RustDeltaTable(str(path)).to_pyarrow_table(columns=columns)
    return sorted(zip(*[table.column(c).to_pylist() for c in columns]))


def test_delta_pipeline_twice_leaves_the_same_mart_read_by_delta_rs(spark, sample_delta_lake):
    lake, first = sample_delta_lake
    columns = ["salesorderid", "salesorderdetailid", "linetotal", "customer_name", "order_year", "order_month"]
    before = independent_rows(lake / "mart" / "sales", columns)
    second = run_pipeline(spark, str(SAMPLE_RAW), str(lake), "delta")
    after = independent_rows(lake / "mart" / "sales", columns)
    assert len(before) == 300 and after == before
    assert [r.rows_read for r in first] == [r.rows_read for r in second] == [40, 18, 300, 300]
    raw_total = sum(Decimal(row[15]) for row in read_raw_rows(SAMPLE_RAW / "orders"))
    assert sum(row[2] for row in after) == raw_total
    # The processed tables after the MERGE rerun, against the raw files (the mart's joins would
    # hide a dimension's duplicated keys).
    processed = lake / "processedData"
    orders = expected_orders_of_rows(spark, read_raw_rows(SAMPLE_RAW / "orders"))
    assert_df_equality(delta_table(spark, processed / "orders"), orders, ignore_row_order=True, ignore_nullable=True)
    customers = [(int(r[0]), r[1] or None, r[2] or None, r[3] or None) for r in read_raw_rows(SAMPLE_RAW / "customers")]
    assert_df_equality(
        delta_table(spark, processed / "customers"),
        spark.createDataFrame(customers, CUSTOMERS),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    employee_ids = sorted(int(row[0]) for row in read_raw_rows(SAMPLE_RAW / "employees"))
    employees = delta_table(spark, processed / "employees").select("employeeid").collect()
    assert sorted(row.employeeid for row in employees) == employee_ids


def delta_table(spark, path):
    return spark.read.format("delta").load(str(path))


def test_delta_mart_equals_the_parquet_mart(spark, sample_delta_lake, sample_lake):
    lake, _first = sample_delta_lake
    for table in ("sales", "sales_by_employee_month", "customer_summary"):
        delta_df = spark.read.format("delta").load(str(lake / "mart" / table))
        parquet_df = spark.read.parquet(str(sample_lake / "mart" / table))
        assert_df_equality(delta_df.select(*parquet_df.columns), parquet_df, ignore_row_order=True)


def test_delta_orders_write_the_plain_columns_without_a_dictionary_like_parquet(spark, sample_delta_lake):
    """Delta passes Parquet no per-column option of a write: they are set in the session around it."""
    lake, _first = sample_delta_lake
    # As in the Parquet output (test_csv_to_parquet): productid falls back to PLAIN on its own.
    assert columns_without_dictionary(lake / "processedData" / "orders") == ORDERS_WITHOUT_DICTIONARY
    assert spark.conf.get("parquet.enable.dictionary#salesorderid", None) is None  # restored after the write


def test_a_correcting_file_replaces_a_line_and_adds_one_without_duplicates(spark, tmp_path):
    table, raw = tmp_path / "orders", tmp_path / "raw"
    raw.mkdir()
    lines = (SAMPLE_RAW / "orders" / "orders-00000.csv").read_text().splitlines()
    (raw / "batch1.csv").write_text("\n".join(lines[:10]) + "\n")
    argv = ["--dataset", "orders", "--format", "delta", "--output_path", str(table)]
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--input_path", str(raw / "batch1.csv")]))
    corrected = lines[0].rsplit(",", 1)[0] + ",90.0000"  # 71782/110667 with a new linetotal
    added = "99999,999999," + lines[0].split(",", 2)[2]
    (raw / "batch2.csv").write_text(corrected + "\n" + added + "\n")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--input_path", str(raw / "batch2.csv")]))
    assert (result.rows_read, result.rows_written, result.outputs[0].rows) == (2, 2, 2)
    orders = spark.read.format("delta").load(str(table))  # line 0 replaced, lines 1-9 kept, one added
    expected = expected_orders(spark, lines[1:10] + [corrected, added])
    assert_df_equality(orders.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)
    assert [row.operation for row in table_history(spark, str(table)).collect()] == ["MERGE", "WRITE"]


def test_a_delta_run_without_delta_s_python_module_is_refused_before_anything_is_read(
    spark, tmp_path, monkeypatch, capsys
):
    """Until session 47 it read, validated and quarantined the batch, then failed in stage write, exit 1."""
    monkeypatch.setitem(sys.modules, "delta", None)  # ``import delta`` raises, as without delta-spark installed
    table = tmp_path / "customers"
    argv = ["--dataset", "customers", "--input_path", str(SAMPLE_RAW / "customers"), "--output_path", str(table)]
    assert cli.main(["run", "csv_to_parquet", *argv, "--format", "delta"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        "csv_to_parquet: error: --format delta needs Delta Lake's Python module (delta), which this Python "
        "cannot import: pip install delta-spark==3.3.2\n",
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["customers_lakejobs"]  # its FAILED run report only


def test_only_writing_delta_needs_delta_s_python_module_and_its_pin_is_the_project_s(monkeypatch):
    session = type(
        "Session",
        (),
        {"conf": type("Conf", (), {"get": lambda _self, _key, _default: "x.DeltaSparkSessionExtension"})()},
    )()
    monkeypatch.setitem(sys.modules, "delta", None)
    delta_io.require_delta(session, writes=False)  # warehouse_load reads a Delta table through Spark alone
    pinned = [
        line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.startswith("delta-spark==")
    ]
    assert pinned == [delta_io.DELTA_PIP_PACKAGE]


def test_a_merge_joins_on_the_first_key_and_compares_later_integral_keys_as_a_difference():
    assert merge_condition(("salesorderid", "salesorderdetailid"), ORDERS) == (
        "target.`salesorderid` = source.`salesorderid` AND CAST(target.`salesorderdetailid` AS DECIMAL(20,0))"
        " - CAST(source.`salesorderdetailid` AS DECIMAL(20,0)) = 0"
    )
    assert merge_condition(("customerid", "firstname"), CUSTOMERS) == (
        "target.`customerid` = source.`customerid` AND target.`firstname` = source.`firstname`"
    )


def order_runs(table):
    """Per live file of a Delta table: (distinct order ids, runs of equal adjacent order ids)."""
    counts = []
    for uri in RustDeltaTable(str(table)).file_uris():
        ids = pq.read_table(uri.removeprefix("file://"), columns=["salesorderid"]).column(0).to_pylist()
        counts.append((len(set(ids)), 1 + sum(a != b for a, b in zip(ids, ids[1:]))))
    return counts


def test_a_merge_rerun_keeps_the_lines_of_an_order_next_to_each_other(spark, tmp_path):
    """MERGE's join tasks each write their share of a year: hashed on the order id alone, an
    order's lines stay in one task, so a file holds each order as one run of rows."""
    table = tmp_path / "orders"
    argv = ["--dataset", "orders", "--format", "delta", "--input_path", str(SAMPLE_RAW / "orders")]
    run = lambda: csv_to_parquet.run(spark, csv_to_parquet.parse_args([*argv, "--output_path", str(table)]))  # noqa: E731
    run()
    scattering = {"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    saved = {key: spark.conf.get(key) for key in scattering}
    try:
        for key, value in scattering.items():
            spark.conf.set(key, value)
        result = run()
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)
    assert (result.outputs[0].rows, [row.operation for row in table_history(spark, str(table)).collect()]) == (
        300,
        ["MERGE", "WRITE"],
    )
    merge = table_history(spark, str(table)).collect()[0].operationMetrics  # the rerun matched every line
    assert (merge["numTargetRowsInserted"], merge["numTargetRowsUpdated"]) == ("0", "300")
    assert_df_equality(
        spark.read.format("delta").load(str(table)),
        expected_orders_of_rows(spark, read_raw_rows(SAMPLE_RAW / "orders")),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    runs = order_runs(table)
    assert sum(distinct for distinct, _runs in runs) > len(runs)  # files holding several orders
    assert [distinct for distinct, _runs in runs] == [runs_ for _distinct, runs_ in runs]


def test_duplicate_keys_in_one_batch_are_quarantined_before_the_merge(spark, tmp_path):
    raw = tmp_path / "dup.csv"
    line = (SAMPLE_RAW / "customers" / "customers.csv").read_text().splitlines()[0]
    raw.write_text(f"{line}\n{line.replace('Abel', 'Able')}\n")
    args = csv_to_parquet.parse_args(
        [
            "--dataset",
            "customers",
            "--format",
            "delta",
            "--input_path",
            str(raw),
            "--output_path",
            str(tmp_path / "c"),
            "--max_bad_fraction",
            "0.5",
        ]
    )
    result = csv_to_parquet.run(spark, args)
    assert (result.rows_written, result.quarantine_reasons) == (1, {"duplicate_key:customerid": 1})
    kept = spark.createDataFrame([(293, "Catherine", "Abel", "Catherine Abel")], CUSTOMERS)  # the first copy
    assert_df_equality(spark.read.format("delta").load(str(tmp_path / "c")), kept, ignore_nullable=True)
    quarantine = spark.read.json(args.quarantine_path).select("raw_line", "reason")
    second_copy = spark.createDataFrame(
        [("293,Catherine,Able,Catherine Able", "duplicate_key:customerid")], quarantine.schema
    )
    assert_df_equality(quarantine, second_copy, ignore_nullable=True)


def test_history_optimize_and_vacuum_commands(spark, capsys, tmp_path):
    table = tmp_path / "orders"
    rows = [(order_id, year, f"line {order_id}") for year in (2013, 2014) for order_id in range(year, year + 40, 2)]
    schema = "salesorderid int, order_year int, note string"
    for batch in (rows[0::2], rows[1::2]):  # two writes: two files in each order_year partition
        frame = spark.createDataFrame(batch, schema).coalesce(1)
        frame.write.format("delta").mode("append").partitionBy("order_year").save(str(table))
    written = data_files(table)
    assert len(written) == 4

    def history():
        assert cli.main(["history", str(table)]) == 0
        return [json.loads(line)["operation"] for line in capsys.readouterr().out.splitlines()]

    assert history() == ["WRITE", "WRITE"]
    assert cli.main(["optimize", str(table)]) == 0
    metrics = json.loads(capsys.readouterr().out.strip())
    assert metrics == {"numFilesAdded": 2, "numFilesRemoved": 4, "totalConsideredFiles": 4}
    assert history() == ["OPTIMIZE", "WRITE", "WRITE"]
    compacted = data_files(table) - written
    assert len(compacted) == 2 and {path.split("/")[0] for path in compacted} == {"order_year=2013", "order_year=2014"}
    assert referenced_files(spark, table) == compacted  # the 4 written files are unreferenced, still on disk
    assert data_files(table) == written | compacted

    # Without --retain-hours, the table's own retention is kept, as by Delta's VACUUM (the CLI asked
    # for 168 hours, which Delta refused for this table, pointing at --allow-short-retention).
    retention = "delta.deletedFileRetentionDuration"
    assert cli.main(["vacuum", str(table)]) == 0
    assert capsys.readouterr().out == (
        f"vacuumed {table} (kept interval 1 week of history: Delta's default, the table sets no {retention})\n"
    )
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('{retention}' = 'interval 30 days')")
    assert cli.main(["vacuum", str(table)]) == 0
    assert capsys.readouterr().out == f"vacuumed {table} (kept interval 30 days of history: the table's {retention})\n"
    assert data_files(table) == written | compacted
    assert cli.main(["vacuum", str(table), "--retain-hours", "200"]) == 2
    assert capsys.readouterr().err == (
        f"lakejobs: error: --retain-hours 200 is below {table}'s {retention} (interval 30 days): give at least that, "
        "or leave --retain-hours out to keep what the table keeps (--allow-short-retention deletes files versions "
        "within it still read)\n"
    )
    assert data_files(table) == written | compacted

    assert cli.main(["vacuum", str(table), "--retain-hours", "0"]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: --retain-hours 0 is below Delta's 168 hours: a reader or writer still on an older "
        "version would lose its files; add --allow-short-retention if none is\n"
    )
    assert data_files(table) == written | compacted  # refused: nothing deleted
    assert cli.main(["vacuum", str(table), "--retain-hours", "0", "--allow-short-retention"]) == 0
    assert capsys.readouterr().out == f"vacuumed {table} (kept 0.0 hours of history)\n"
    assert data_files(table) == referenced_files(spark, table) == compacted
    assert_df_equality(
        spark.read.format("delta").load(str(table)),
        spark.createDataFrame(rows, schema),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_optimize_rewrites_the_plain_columns_without_a_dictionary(spark, capsys, tmp_path):
    """Delta's OPTIMIZE writes with Parquet's defaults: every column would get a dictionary again."""
    table = tmp_path / "orders"
    # Every column repeats its values: Parquet would give each a dictionary unless told not to.
    rows = [(line // 4, year, line % 3) for year in (2013, 2014) for line in range(40)]
    for batch in (rows[0::2], rows[1::2]):  # two writes: two files in each order_year partition
        frame = spark.createDataFrame(batch, "salesorderid int, order_year int, orderqty int").coalesce(1)
        with plain_columns_written(spark, ["orderqty"]):
            frame.write.format("delta").mode("append").partitionBy("order_year").save(str(table))
    written = data_files(table)
    assert cli.main(["optimize", str(table)]) == 0
    assert json.loads(capsys.readouterr().out.strip())["numFilesAdded"] == 2
    compacted = data_files(table) - written
    assert columns_without_dictionary(table, written) == columns_without_dictionary(table, compacted) == {"orderqty"}
    assert spark.conf.get("parquet.enable.dictionary#orderqty", None) is None  # restored after OPTIMIZE


def data_files(table):
    """The table's Parquet files on disk, as ``<partition>/<name>``."""
    return {str(path.relative_to(table)) for path in table.rglob("*.parquet")}


def referenced_files(spark, table):
    """The files the table's current version reads, as ``<partition>/<name>``."""
    names = spark.read.format("delta").load(str(table)).selectExpr("input_file_name()").distinct().collect()
    return {"/".join(row[0].rsplit("/", 2)[-2:]) for row in names}


def test_a_writes_counts_come_from_its_own_commit_not_a_later_optimize(spark, tmp_path):
    """``lakejobs optimize`` takes no lock: its commit may land between the job's commit and the count check."""
    path = str(tmp_path / "t")
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string").write.format("delta").save(path)
    source = spark.createDataFrame([(2, "c"), (3, "d"), (4, "e")], "id int, v string")
    merge_delta(source, path, "t", ["id"])  # version 1: 2 inserted, 1 updated
    spark.sql(f"OPTIMIZE delta.`{path}`")  # version 2, right after it
    info = delta_io.commit_output_info(spark, path, "t", (), before=0)
    assert (info.rows, info.files) == (3, 1)


def test_an_insert_of_new_rows_counts_its_own_commit_not_an_optimize_right_after_it(spark, tmp_path, monkeypatch):
    """transactions' Delta loads read ``history(1)``: an OPTIMIZE landing first reported 0 rows inserted."""
    from delta.tables import DeltaMergeBuilder

    from lakejobs.io.insert_new import insert_new_rows

    path = str(tmp_path / "t")
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string").repartition(2).write.format("delta").save(path)
    merged = DeltaMergeBuilder.execute

    def then_optimize(builder):
        merged(builder)
        spark.sql(f"OPTIMIZE delta.`{path}`")

    monkeypatch.setattr(DeltaMergeBuilder, "execute", then_optimize)
    source = spark.createDataFrame([(2, "c"), (3, "d"), (4, "e")], "id int, v string")
    info = insert_new_rows(source, path, "t", "delta", ["id"])
    assert info.rows == 2
    assert spark.read.format("delta").load(path).count() == 4


def test_optimize_refuses_a_z_order_column_the_table_lacks_or_partitions_by(spark, capsys, tmp_path):
    """Delta's AnalysisException came out as it was, exit 1."""
    table = tmp_path / "orders"
    frame = spark.createDataFrame([(1, 2014, "a")], "salesorderid int, order_year int, note string")
    frame.write.format("delta").partitionBy("order_year").save(str(table))
    capsys.readouterr()
    assert cli.main(["optimize", str(table), "--zorder_by", "nosuch"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"lakejobs: error: --zorder_by names nosuch, not a column of {table} (salesorderid, order_year, note)"
    )
    assert cli.main(["optimize", str(table), "--zorder_by", "Order_Year"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"lakejobs: error: --zorder_by cannot name a partition column of {table} (order_year)"
    )
    assert cli.main(["optimize", str(table), "--zorder_by", "salesorderid"]) == 0


def test_a_keyed_run_merges_into_a_table_with_generated_and_identity_columns_delta_fills(spark, tmp_path):
    """Columns Delta computes itself are left out of the schema check and of what a run writes."""
    from delta.tables import DeltaTable, IdentityGenerator

    table, raw = tmp_path / "customers", tmp_path / "raw"
    builder = DeltaTable.create(spark).location(str(table)).addColumns(CUSTOMERS)
    builder.addColumn("name_length", "INT", generatedAlwaysAs="length(fullname)")
    builder.addColumn("row_number", "BIGINT", generatedAlwaysAs=IdentityGenerator(start=1, step=1)).execute()
    raw.mkdir()
    lines = (SAMPLE_RAW / "customers" / "customers.csv").read_text().splitlines()
    (raw / "batch1.csv").write_text("\n".join(lines) + "\n")
    argv = ["--dataset", "customers", "--format", "delta", "--output_path", str(table)]
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--input_path", str(raw / "batch1.csv")]))
    corrected = lines[0].replace("Catherine Abel", "Catherine Abel-Smith")
    (raw / "batch2.csv").write_text(corrected + "\n")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--input_path", str(raw / "batch2.csv")]))
    assert (result.status, result.rows_written) == ("SUCCEEDED", 1)
    rows = spark.read.format("delta").load(str(table))
    customers = [(int(r[0]), r[1] or None, r[2] or None, r[3] or None) for r in read_raw_rows(SAMPLE_RAW / "customers")]
    customers[0] = (293, "Catherine", "Abel", "Catherine Abel-Smith")
    expected = spark.createDataFrame(
        [(*row, len(row[3]) if row[3] is not None else None) for row in customers],
        "customerid int, firstname string, lastname string, fullname string, name_length int",
    )
    assert_df_equality(rows.drop("row_number"), expected, ignore_row_order=True, ignore_nullable=True)
    numbers = [row.row_number for row in rows.select("row_number").collect()]
    assert None not in numbers and len(set(numbers)) == len(customers) == 40


def test_a_first_delta_write_stopped_before_its_commit_is_no_table_for_the_rerun(spark, sample_delta_lake, tmp_path):
    """Delta makes _delta_log/ before the first commit: a stopped first write (Ctrl-C) left one
    without any, and every rerun took it for a table with other columns (or DELTA_TABLE_NOT_FOUND)."""
    lake = tmp_path / "lake"
    spark.range(3).coalesce(1).write.parquet(str(tmp_path / "stray"))  # a data file no commit names
    [stray] = (tmp_path / "stray").glob("part-*.parquet")
    for table in ("processedData/orders", "mart/sales"):
        (lake / table / "_delta_log" / "_commits").mkdir(parents=True)
        (lake / table / stray.name).write_bytes(stray.read_bytes())
    for dimension in ("customers", "employees"):  # as the pipeline's first steps wrote them
        shutil.copytree(sample_delta_lake[0] / "processedData" / dimension, lake / "processedData" / dimension)
    steps = pipeline_steps(str(SAMPLE_RAW), str(lake), "delta")
    results = [module.run(spark, module.parse_args(argv)) for _label, module, argv in steps[2:]]
    assert [(result.job, result.status) for result in results] == [
        ("csv_to_parquet", "SUCCEEDED"),
        ("sales_mart", "SUCCEEDED"),
    ]
    orders = spark.read.format("delta").load(str(lake / "processedData" / "orders"))
    expected = expected_orders_of_rows(spark, read_raw_rows(SAMPLE_RAW / "orders"))
    assert_df_equality(orders.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)
    assert spark.read.format("delta").load(str(lake / "mart" / "sales")).count() == orders.count()
