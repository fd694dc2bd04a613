"""Entry point of the fx_rates job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.fx_rates`` (shipped in the library zip).
"""

import sys

from lakejobs.jobs.fx_rates import main, run  # noqa: F401 - run is the job's API

if __name__ == "__main__":
    sys.exit(main())
