"""The single-pass conversion: the same outcome as the persisted passes, and no staging left behind."""

import csv
import re
import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality

from lakejobs import fs
from lakejobs.errors import LakejobsError, QualityGateError
from lakejobs.io.staging import clear_staging, commit_parquet, holds_unfinished_commit, staging_path
from lakejobs.io.writer import write_table
from lakejobs.jobs import csv_to_parquet
from tests.conftest import expected_orders, typed_order
from tests.jobs.test_csv_to_parquet import BAD_LINES, GOOD_LINES

RULE_BREAKING_LINE = b"44116,1738,8/1/2011,8/13/2011,8/8/2011,277,295,10,1,1,12,765,0,5,0,10"
REPEATED_KEY_LINE = GOOD_LINES[3].rsplit(b",", 1)[0] + b",1.0000"  # line 3's key, another linetotal


def land(tmp_path, lines):
    folder = tmp_path / "raw" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.csv").write_bytes(b"\n".join(lines) + b"\n")
    return folder


def convert(spark, raw, out, fraction="0.5", references=None):
    argv = ["--dataset", "orders", "--input_path", str(raw), "--output_path", str(out / "orders")]
    argv += ["--references_path", str(references)] if references else []
    argv += ["--quarantine_path", str(out / "quarantine"), "--max_bad_fraction", fraction]
    return csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))


def files_below(folder: Path):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def outcome(result):
    return (result.rows_read, result.rows_written, result.rows_quarantined, result.quarantine_reasons)


def test_single_pass_and_persisted_passes_give_the_same_output_quarantine_and_counts(spark, tmp_path, monkeypatch):
    raw = land(tmp_path, GOOD_LINES + list(BAD_LINES) + [RULE_BREAKING_LINE])
    references = tmp_path / "references"
    spark.createDataFrame([(293,), (295,)], "customerid INT").write.parquet(str(references / "customers"))
    spark.createDataFrame([(276,), (277,)], "employeeid INT").write.parquet(str(references / "employees"))
    single = convert(spark, raw, tmp_path / "single", references=references)
    monkeypatch.setattr(csv_to_parquet, "takes_single_pass", lambda args: False)
    persisted = convert(spark, raw, tmp_path / "persisted", references=references)

    assert (single.details["conversion"], persisted.details["conversion"]) == ("single_pass", "persisted")
    assert outcome(single) == outcome(persisted) == (29, 20, 9, {**_reasons(), 'ColumnValues "orderqty" > 0': 1})
    assert single.details["rules"] == persisted.details["rules"]
    measured = {rule["rule"].split('"')[1]: rule["measured"] for rule in single.details["rules"][3:]}
    assert measured == {"customerid": 0.35, "employeeid": 0.4}  # 7 and 8 of the 20 good rows
    for name in ("orders", "quarantine"):
        reader = spark.read.parquet if name == "orders" else spark.read.json
        expected = reader(str(tmp_path / "persisted" / name)).drop("run_id")
        actual = reader(str(tmp_path / "single" / name)).drop("run_id")
        assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert [path for path in files_below(tmp_path / "single" / "orders") if "_staging" in path] == []
    # And both equal what the input says, not only each other.
    published = spark.read.parquet(str(tmp_path / "single" / "orders"))
    assert_df_equality(published, expected_orders(spark, GOOD_LINES), ignore_row_order=True, ignore_nullable=True)
    kept = spark.read.json(str(tmp_path / "single" / "quarantine")).select("raw_line", "reason").collect()
    bad = [(line.decode("utf-8", "replace"), reason) for line, reason in BAD_LINES.items()]
    bad.append((RULE_BREAKING_LINE.decode(), 'ColumnValues "orderqty" > 0'))
    assert sorted(tuple(row) for row in kept) == sorted(bad)


def _reasons():
    reasons = {}
    for reason in BAD_LINES.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def test_a_repeated_key_sends_the_batch_to_the_persisted_passes_which_keep_the_first_copy(spark, tmp_path):
    raw = land(tmp_path, GOOD_LINES + [REPEATED_KEY_LINE])
    result = convert(spark, raw, tmp_path / "out")
    assert result.details["conversion"] == "persisted"
    assert outcome(result) == (21, 20, 1, {"duplicate_key:salesorderid,salesorderdetailid": 1})
    output = spark.read.parquet(str(tmp_path / "out" / "orders"))
    assert_df_equality(output, expected_orders(spark, GOOD_LINES), ignore_row_order=True, ignore_nullable=True)
    # The later copy, written back from its typed values in the dataset's own formats (its text
    # was not kept): it reads back to the same values.
    quarantine = spark.read.json(str(tmp_path / "out" / "quarantine")).select("raw_line", "reason")
    [(line, reason)] = [tuple(row) for row in quarantine.collect()]
    assert (line, reason) == (
        "71782,3,5/1/2014,5/13/2014,5/8/2014,276,293,33319.9860,3182.8264,994.6333,37497.4457,751,1,11076.6680,"
        "0.0000,1.0000",
        "duplicate_key:salesorderid,salesorderdetailid",
    )
    assert typed_order(next(csv.reader([line]))) == typed_order(next(csv.reader([REPEATED_KEY_LINE.decode()])))
    assert not (tmp_path / "out" / "orders" / "_staging").exists()


def test_a_rejected_single_pass_run_leaves_the_output_exactly_as_it_was(spark, tmp_path, monkeypatch):
    assert convert(spark, land(tmp_path, GOOD_LINES), tmp_path / "out").details["conversion"] == "single_pass"
    before = {
        path: (tmp_path / "out" / "orders" / path).read_bytes() for path in files_below(tmp_path / "out" / "orders")
    }
    # The rejected run must take the single pass (which stages its good rows before the gate), only it.
    routes = []
    single_pass = csv_to_parquet.convert_batch_single_pass

    def spied_single_pass(*arguments):
        routes.append("single_pass")
        return single_pass(*arguments)

    def persisted(*_arguments):
        pytest.fail("the rejected run took the persisted passes")

    monkeypatch.setattr(csv_to_parquet, "convert_batch_single_pass", spied_single_pass)
    monkeypatch.setattr(csv_to_parquet, "convert_batch_persisted", persisted)
    with pytest.raises(QualityGateError, match="rows .* are bad, above --max_bad_fraction 0.1"):
        convert(spark, land(tmp_path, GOOD_LINES[:5] + list(BAD_LINES)), tmp_path / "out", fraction="0.1")
    assert routes == ["single_pass"]
    after = {
        path: (tmp_path / "out" / "orders" / path).read_bytes() for path in files_below(tmp_path / "out" / "orders")
    }
    assert after == before
    assert any(path.startswith("order_year=") for path in before)


def stage(spark, output, run_id, rows, partitioned=True):
    df = spark.createDataFrame(rows, "id INT, p INT")
    staging = staging_path(str(output), run_id)
    write_table(df, staging, "t", "parquet", ("p",) if partitioned else ())
    return staging


def data_files(folder: Path):
    return {path for path in files_below(folder) if path.endswith(".parquet")}


def test_commit_replaces_exactly_the_staged_partitions(spark, tmp_path):
    output = tmp_path / "t"
    commit_parquet(spark, stage(spark, output, "r1", [(1, 1), (2, 2)]), str(output), True, False)
    old = data_files(output)
    staging = stage(spark, output, "r2", [(3, 2), (4, 3)])
    staged = {path.split("/", 2)[-1] for path in data_files(output) if path.startswith("_staging")}
    commit_parquet(spark, staging, str(output), True, False)
    kept = {path for path in old if path.startswith("p=1/")}
    assert data_files(output) == kept | staged
    assert [path for path in files_below(output) if not path.endswith((".crc", "_SUCCESS"))] == sorted(kept | staged)
    rows = spark.read.parquet(str(output)).orderBy("id")
    assert [tuple(row) for row in rows.collect()] == [(1, 1), (3, 2), (4, 3)]


def test_commit_appends_without_replacing_and_replaces_an_unpartitioned_table_whole(spark, tmp_path):
    output = tmp_path / "t"
    commit_parquet(spark, stage(spark, output, "r1", [(1, 1)]), str(output), True, False)
    commit_parquet(spark, stage(spark, output, "r2", [(2, 1)]), str(output), True, True)
    assert sorted(tuple(row) for row in spark.read.parquet(str(output)).collect()) == [(1, 1), (2, 1)]
    assert len(data_files(output)) == 2

    flat = tmp_path / "flat"
    commit_parquet(spark, stage(spark, flat, "r1", [(1, 1)], False), str(flat), False, False)
    commit_parquet(spark, stage(spark, flat, "r2", [(5, 1), (6, 1)], False), str(flat), False, False)
    assert sorted(row.id for row in spark.read.parquet(str(flat)).collect()) == [5, 6]
    assert not (flat / "_staging").exists()


def second_rename_fails(monkeypatch) -> None:
    """Make the second ``fs.rename`` fail, as an S3 copy can part-way through a commit."""
    real_rename, renames = fs.rename, []

    def rename_fails_second(spark_, source, target):
        renames.append(target)
        if len(renames) == 2:
            raise OSError("S3 throttled the copy")
        real_rename(spark_, source, target)

    monkeypatch.setattr(fs, "rename", rename_fails_second)


def test_a_commit_stopped_part_way_names_the_partitions_it_left_and_the_repair(spark, tmp_path, monkeypatch):
    output = tmp_path / "t"
    staging = stage(spark, output, "r1", [(1, 1), (2, 2), (3, 3)])
    second_rename_fails(monkeypatch)
    with pytest.raises(LakejobsError) as raised:
        commit_parquet(spark, staging, str(output), True, False)
    assert str(raised.value) == (
        f"moving the staged rows into {output} stopped part-way (OSError: S3 throttled the copy), before p=2, p=3: "
        "the next run into it finishes this commit first (its staged rows are kept until then)"
    )


@pytest.mark.parametrize("partitioned", [True, False])
def test_a_commit_stopped_part_way_is_finished_by_the_next_run_not_dropped(spark, tmp_path, monkeypatch, partitioned):
    """The old rows of a replaced folder are gone and the new ones are only staged: finish, never delete."""
    output = tmp_path / "t"
    commit_parquet(
        spark, stage(spark, output, "r1", [(1, 1), (2, 2), (3, 3)], partitioned), str(output), partitioned, False
    )
    staging = stage(spark, output, "r2", [(11, 1), (12, 2), (13, 2), (14, 3)], partitioned)
    second_rename_fails(monkeypatch)
    with pytest.raises(LakejobsError, match="stopped part-way"):
        commit_parquet(spark, staging, str(output), partitioned, False)
    monkeypatch.undo()
    assert holds_unfinished_commit(spark, str(output))
    # As S3 leaves a folder whose copy stopped part-way: one file copied, still staged too.
    staged = sorted(path for path in (output / "_staging").rglob("*.parquet"))
    in_place = output / staged[-1].relative_to(next((output / "_staging").iterdir()))
    in_place.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(staged[-1], in_place)

    clear_staging(spark, str(output))

    rows = sorted(tuple(row) for row in spark.read.parquet(str(output)).select("id", "p").collect())
    assert rows == [(11, 1), (12, 2), (13, 2), (14, 3)]
    assert not (output / "_staging").exists()
    assert not holds_unfinished_commit(spark, str(output))


def test_a_staging_folder_that_was_never_committed_is_removed_unpublished(spark, tmp_path):
    output = tmp_path / "t"
    commit_parquet(spark, stage(spark, output, "r1", [(1, 1)]), str(output), True, False)
    stage(spark, output, "r2", [(2, 1), (3, 2)])  # a run that stopped before its gate
    clear_staging(spark, str(output))
    assert sorted(tuple(row) for row in spark.read.parquet(str(output)).select("id", "p").collect()) == [(1, 1)]
    assert not (output / "_staging").exists()


@pytest.mark.parametrize(
    ("turned_bad", "message"),
    [
        # A reason the first read saw (malformed_record): the second read counts one bad row more.
        (
            lambda fields: fields[:-2] + [fields[-2] + b"x" + fields[-1]],
            r"\(2 bad rows in the first read, 3 in the second\)",
        ),
        # A reason it did not see: the second read does not look for it; the files are listed again.
        (
            lambda fields: fields[:12] + [b"x" * len(fields[12])] + fields[13:],
            r"\(1 file\(s\) changed or landed after the listing: file:.*/orders.csv\)",
        ),
    ],
    ids=["seen_reason", "unseen_reason"],
)
def test_a_file_changed_between_the_two_reads_stops_the_run_with_nothing_published(
    spark, tmp_path, monkeypatch, turned_bad, message
):
    raw = land(tmp_path, GOOD_LINES + list(BAD_LINES)[:2])  # two malformed lines
    # Between the reads, one good line turns bad, the file keeping its length.
    read_bad_rows = csv_to_parquet._bad_rows

    def change_then_read(*arguments):
        changed = b",".join(turned_bad(GOOD_LINES[5].split(b",")))
        assert len(changed) == len(GOOD_LINES[5])
        lines = GOOD_LINES[:5] + [changed] + GOOD_LINES[6:] + list(BAD_LINES)[:2]
        (raw / "orders.csv").write_bytes(b"\n".join(lines) + b"\n")
        return read_bad_rows(*arguments)

    monkeypatch.setattr(csv_to_parquet, "_bad_rows", change_then_read)
    with pytest.raises(LakejobsError) as raised:
        convert(spark, raw, tmp_path / "out")
    assert re.fullmatch(
        f"orders: the input changed while it was converted {message}; nothing was published: run the job again",
        str(raised.value),
    )
    assert not (tmp_path / "out" / "orders").exists()
    assert not (tmp_path / "out" / "quarantine").exists()


EMPLOYEE_LINES = [
    b"273,,Brian,Welcker,Brian Welcker,Vice President of Sales,1,S,M,,,",
    b"274,273,Stephen,Jiang,Stephen Jiang,North American Sales Manager,2,S,M,,US,North America",
    b"285,273,Syed,Abbas,Syed Abbas,Pacific Sales Manager,2,M,M,,AU,Pacific",
    b"0,273,Amy,Alberts,Amy Alberts,European Sales Manager,2,M,F,,,",  # quarantined: employeeid > 0
    b"290,0,Ranjit,Varkey,Ranjit Varkey,Sales Representative,3,S,M,,FR,Europe",  # its manager was quarantined
    b"291,999,Lynn,Tsoflias,Lynn Tsoflias,Sales Representative,3,S,F,,AU,Pacific",  # no such manager
]


def assert_employees_as_written(spark, out):
    """Every employee line but employeeid 0 published with its fields; that one quarantined whole."""
    table = spark.read.parquet(str(out / "employees")).select("employeeid", "managerid", "fullname", "country")
    rows = [line.decode().split(",") for line in EMPLOYEE_LINES if not line.startswith(b"0,")]
    expected = [(int(r[0]), int(r[1]) if r[1] else None, r[4], r[10] or None) for r in rows]
    assert sorted(tuple(row) for row in table.collect()) == sorted(expected)
    kept = spark.read.json(str(out / "quarantine")).select("raw_line", "reason").collect()
    assert [tuple(row) for row in kept] == [(EMPLOYEE_LINES[3].decode(), 'ColumnValues "employeeid" > 0')]


def convert_employees(spark, raw, out, rules=None):
    argv = ["--dataset", "employees", "--input_path", str(raw), "--output_path", str(out / "employees")]
    argv += ["--rules", str(rules)] if rules else []
    argv += ["--quarantine_path", str(out / "quarantine"), "--max_bad_fraction", "0.5"]
    return csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))


def test_a_rule_referring_to_its_own_dataset_is_measured_by_the_single_pass_as_by_the_persisted(
    spark, tmp_path, monkeypatch
):
    raw = tmp_path / "raw" / "employees"
    raw.mkdir(parents=True)
    (raw / "employees.csv").write_bytes(b"\n".join(EMPLOYEE_LINES) + b"\n")
    single = convert_employees(spark, raw, tmp_path / "single")
    monkeypatch.setattr(csv_to_parquet, "takes_single_pass", lambda args: False)
    persisted = convert_employees(spark, raw, tmp_path / "persisted")

    assert (single.details["conversion"], persisted.details["conversion"]) == ("single_pass", "persisted")
    assert "measure_after_staging" in single.stages_s
    assert outcome(single) == outcome(persisted) == (6, 5, 1, {'ColumnValues "employeeid" > 0': 1})
    assert single.details["rules"] == persisted.details["rules"]
    # Of the 4 good rows with a manager, 2 name a good row (273); 0 was quarantined, 999 is absent.
    [reference] = [rule for rule in single.details["rules"] if rule["rule"].startswith("ReferentialIntegrity")]
    assert (reference["measured"], reference["outcome"]) == (0.5, "warned")
    expected = spark.read.parquet(str(tmp_path / "persisted" / "employees"))
    actual = spark.read.parquet(str(tmp_path / "single" / "employees"))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert_employees_as_written(spark, tmp_path / "single")


UNIQUE_RULES = """Rules = [
    ColumnValues "employeeid" > 0,
    IsUnique "employeeid",
    IsUnique "managerid" severity warn,
    IsUnique "jobtitle" where "managerid = 273",
    IsUnique "jobtitle" "employeeid" where "managerid = 273",
    ReferentialIntegrity "managerid" "employees.employeeid" = 1.0 severity warn
]"""


def test_is_unique_rules_are_measured_by_the_single_pass_over_the_staged_rows_as_by_the_persisted(
    spark, tmp_path, monkeypatch
):
    raw = tmp_path / "raw" / "employees"
    raw.mkdir(parents=True)
    (raw / "employees.csv").write_bytes(b"\n".join(EMPLOYEE_LINES) + b"\n")
    rules = tmp_path / "employees.dqdl"
    rules.write_text(UNIQUE_RULES)
    single = convert_employees(spark, raw, tmp_path / "single", rules)
    monkeypatch.setattr(csv_to_parquet, "takes_single_pass", lambda args: False)
    persisted = convert_employees(spark, raw, tmp_path / "persisted", rules)

    assert (single.details["conversion"], persisted.details["conversion"]) == ("single_pass", "persisted")
    assert "measure_after_staging" in single.stages_s
    assert outcome(single) == outcome(persisted) == (6, 5, 1, {'ColumnValues "employeeid" > 0': 1})
    assert single.details["rules"] == persisted.details["rules"]
    # Good rows' managers: none, 273, 273, 0, 999 (one repeat); of managerid 273, two titles.
    # The rules over the whole key are settled by the key check (``quality_gate.settled_by_key``).
    measured = {rule["rule"]: (rule["measured"], rule["outcome"]) for rule in single.details["rules"][1:5]}
    assert measured == {
        'IsUnique "employeeid"': (0.0, "passed"),
        'IsUnique "managerid"': (1.0, "warned"),
        'IsUnique "jobtitle" where "managerid = 273"': (0.0, "passed"),
        'IsUnique "jobtitle" "employeeid" where "managerid = 273"': (0.0, "passed"),
    }
    expected = spark.read.parquet(str(tmp_path / "persisted" / "employees"))
    actual = spark.read.parquet(str(tmp_path / "single" / "employees"))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert_employees_as_written(spark, tmp_path / "single")
