"""The local pipeline runs its steps in the deployed pipeline's order."""

from lakejobs import pipeline
from lakejobs.deploy.description import sales_pipeline


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
