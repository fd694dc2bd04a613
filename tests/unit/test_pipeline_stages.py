"""The local pipeline runs its steps in the deployed pipeline's order."""

from lakejobs import pipeline
from lakejobs.deploy.description import sales_pipeline
from lakejobs.result import JobResult


def test_the_local_steps_follow_the_deployed_stages():
    local = [label for label, _module, _argv in pipeline.pipeline_steps("/raw", "/lake")]
    deployed = [key.replace("convert_", "csv_to_parquet ") for stage in sales_pipeline().stages for key in stage]
    assert (
        local
        == deployed
        == [
            "csv_to_parquet customers",
            "csv_to_parquet employees",
            "csv_to_parquet orders",
            "sales_mart",
        ]
    )


def test_the_closing_line_names_the_folders_the_lake_holds(spark, tmp_path):
    for folder in ("processedData/orders", "mart", "_lakejobs/runs"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / ".DS_Store").write_text("not a folder")
    assert pipeline.lake_line(spark, str(tmp_path)) == f"lake: {tmp_path} (_lakejobs/, mart/, processedData/)"


def step(job, read, written, quarantined, reasons):
    result = JobResult(job=job, run_id=f"{job}-{read}", rows_read=read, rows_written=written)
    result.rows_quarantined, result.quarantine_reasons = quarantined, reasons
    return result.finish("SUCCEEDED")


def test_the_pipelines_totals_count_each_raw_line_once_and_the_marts_counts_stay_in_its_step():
    """The mart reads the orders the conversion wrote: until session 46 the totals counted them twice."""
    results = [
        step("csv_to_parquet", 40, 40, 0, {}),
        step("csv_to_parquet", 18, 18, 0, {}),
        step("csv_to_parquet", 300, 299, 1, {"invalid_int:orderqty": 1}),
        step("sales_mart", 299, 297, 2, {"unknown_customer": 2}),
    ]
    labels = [label for label, _module, _argv in pipeline.pipeline_steps("/raw", "/lake")]
    total = pipeline.pipeline_result(JobResult(job="pipeline", run_id="p"), results, labels)
    assert (total.rows_read, total.rows_written, total.rows_quarantined) == (358, 357, 1)
    assert total.quarantine_reasons == {"invalid_int:orderqty": 1}
    assert total.details["steps"][-1] == {
        "step": "sales_mart",
        "run_id": "sales_mart-299",
        "status": "SUCCEEDED",
        "rows_read": 299,
        "rows_written": 297,
        "rows_quarantined": 2,
        "quarantine_reasons": {"unknown_customer": 2},
    }
