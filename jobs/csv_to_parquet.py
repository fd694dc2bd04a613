"""Entry point of the csv_to_parquet job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.csv_to_parquet`` (shipped in the library zip).
"""

import sys

from lakejobs.jobs.csv_to_parquet import main, run  # noqa: F401 - run is the job's API

if __name__ == "__main__":
    sys.exit(main())
