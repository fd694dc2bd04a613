"""Entry point of the transactions job on Glue, EMR, EMR Serverless and locally.

The job itself lives in ``lakejobs.jobs.transactions`` (shipped in the library zip).
"""

import sys

try:
    from lakejobs.jobs.transactions import main, run  # noqa: F401 - run is the job's API
except ModuleNotFoundError as missing:  # until session 47 a traceback: "No module named 'lakejobs'"
    if missing.name != "lakejobs" or __name__ != "__main__":
        raise
    print(
        "transactions: error: the lakejobs package is not importable: pass --py-files dist/lakejobs-lib.zip "
        "to spark-submit (Glue: --extra-py-files; make package builds it)",
        file=sys.stderr,
    )
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
