"""Entry point of the stock_prices job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.stock_prices`` (shipped in the library zip).
"""

import sys

from lakejobs.jobs.stock_prices import main, run  # noqa: F401 - run is the job's API

if __name__ == "__main__":
    sys.exit(main())
