"""Entry point of the taxi_trips job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.taxi_trips`` (shipped in the library zip).
"""

import sys

from lakejobs.jobs.taxi_trips import main, run  # noqa: F401 - run is the job's API

if __name__ == "__main__":
    sys.exit(main())
