"""The local pipeline's stages: which steps run together, and how a stage ends."""

import threading
import types

import pytest

from lakejobs import pipeline
from lakejobs.deploy.description import sales_pipeline
from lakejobs.errors import LakejobsError


def fake_job(run):
    """A job module whose ``run(spark, args)`` is ``run(args)``; its argv is its args."""
    return types.SimpleNamespace(
        parse_args=lambda argv: argv, preflight=lambda args: None, run=lambda spark, args: run(args)
    )


def test_every_step_is_in_exactly_one_stage_in_the_order_of_the_steps():
    labels = [label for label, _module, _argv in pipeline.pipeline_steps("/raw", "/lake")]
    assert [label for stage in pipeline.STAGES for label in stage] == labels
    assert pipeline.STAGES[0] == ("csv_to_parquet customers", "csv_to_parquet employees")


def test_the_local_stages_are_the_deployed_pipelines():
    def deployed_label(key):
        return key.replace("convert_", "csv_to_parquet ")

    deployed = tuple(tuple(deployed_label(key) for key in stage) for stage in sales_pipeline().stages)
    assert deployed == pipeline.STAGES


def test_the_steps_of_a_stage_run_at_the_same_time_and_their_results_keep_the_steps_order():
    both_running = threading.Barrier(2, timeout=30)  # broken (an error) unless both steps wait at once
    ran = []

    def run(args):
        both_running.wait()
        ran.append(args)
        return f"result of {args}"

    steps = [("first", fake_job(run), "a"), ("second", fake_job(run), "b")]
    assert pipeline.run_together(None, steps) == ["result of a", "result of b"]
    assert sorted(ran) == ["a", "b"]


def test_a_failed_step_fails_the_stage_after_the_others_have_ended():
    ended = []

    def fails(args):
        raise LakejobsError(f"{args}: broken")

    def slow(args):
        threading.Event().wait(0.5)
        ended.append(args)
        return args

    steps = [
        ("ok", fake_job(slow), "customers"),
        ("bad", fake_job(fails), "employees"),
        ("also bad", fake_job(fails), "x"),
    ]
    with pytest.raises(LakejobsError, match=r"^employees: broken$"):
        pipeline.run_together(None, steps)
    assert ended == ["customers"]


def test_bad_arguments_of_any_step_stop_the_stage_before_a_step_starts():
    started = []

    def refuse(args):
        raise LakejobsError("bad arguments")

    refusing = types.SimpleNamespace(parse_args=lambda argv: argv, preflight=refuse, run=None)
    steps = [("ok", fake_job(started.append), "customers"), ("bad", refusing, "employees")]
    with pytest.raises(LakejobsError, match="bad arguments"):
        pipeline.run_together(None, steps)
    assert started == []
