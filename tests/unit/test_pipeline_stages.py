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
