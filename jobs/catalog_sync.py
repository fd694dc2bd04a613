"""Entry point of the pipeline's catalog step: ``lakejobs catalog sync`` as a Glue job, EMR step or EMR Serverless run.

It needs no Spark: it lists the lake's objects and calls Glue's API with boto3 (which Glue,
EMR and EMR Serverless ship). Glue's own arguments (``--JOB_NAME``, ...) are set aside.
"""

import sys

from lakejobs.args import strip_glue_arguments
from lakejobs.cli import main

if __name__ == "__main__":
    own_arguments, _glue_arguments = strip_glue_arguments(sys.argv[1:])
    sys.exit(main(["catalog", "sync", *own_arguments]))
