"""The jobs. Each module has ``run(spark, args) -> JobResult`` and ``main(argv=None) -> int``.

The scripts in the repository's ``jobs/`` folder are thin entry points to these modules, so
that Glue, EMR and ``spark-submit`` get one small file to run and the logic ships in the
library zip.
"""

from typing import Dict

#: Job name -> module, in pipeline order.
JOBS: Dict[str, str] = {
    "csv_to_parquet": "lakejobs.jobs.csv_to_parquet",
    "sales_mart": "lakejobs.jobs.sales_mart",
    "warehouse_load": "lakejobs.jobs.warehouse_load",
    "warehouse_extract": "lakejobs.jobs.warehouse_extract",
    "taxi_trips": "lakejobs.jobs.taxi_trips",
    "fx_rates": "lakejobs.jobs.fx_rates",
    "stock_prices": "lakejobs.jobs.stock_prices",
    "transactions": "lakejobs.jobs.transactions",
}
