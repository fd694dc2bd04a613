"""Entry point of the warehouse_load job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.warehouse_load`` (shipped in the library zip).
"""

import sys

from lakejobs.jobs.warehouse_load import main, run  # noqa: F401 - run is the job's API

if __name__ == "__main__":
    sys.exit(main())
