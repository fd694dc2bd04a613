"""``lakejobs pipeline`` without an action is still the local pipeline (``make run``).

The full local run is covered by the pipeline tests; here the CLI's dispatch is checked
cheaply: the local run reports its own missing-input error, in one line.
"""

from lakejobs import cli


def test_lakejobs_pipeline_without_an_action_runs_the_local_pipeline(spark, tmp_path, capsys):
    raw = tmp_path / "no-raw"
    assert cli.main(["pipeline", "--raw", str(raw), "--lake", str(tmp_path / "lake")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lakejobs: error: input path does not exist: {raw}/customers\n"
    assert captured.out == ""
