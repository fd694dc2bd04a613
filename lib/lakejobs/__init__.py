"""lakejobs: PySpark batch jobs for AWS Glue, Amazon EMR and a laptop, from one codebase."""

__version__ = "0.1.0"
