"""Entry point of the sales_mart job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.sales_mart`` (shipped in the library zip).
"""

import sys

from lakejobs.jobs.sales_mart import main, run  # noqa: F401 - run is the job's API

if __name__ == "__main__":
    sys.exit(main())
