"""Entry point of the warehouse_extract job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.warehouse_extract`` (shipped in the library zip).
"""

import sys

from lakejobs.jobs.warehouse_extract import main, run  # noqa: F401 - run is the job's API

if __name__ == "__main__":
    sys.exit(main())
