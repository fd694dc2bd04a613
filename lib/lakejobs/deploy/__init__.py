"""Deploy the pipeline to AWS Glue, Amazon EMR and EMR Serverless from one description.

- ``description``: the pipeline (jobs, scripts, arguments, sizes, stages) and where it lives
  on S3 (``Layout``), with the deployment's settings (``DeployConfig``);
- ``glue``, ``emr``, ``serverless``: each runtime's definitions of one job, rendered from it;
- ``iam``: least-privilege policy documents for the roles the jobs run as;
- ``requests``: the AWS API requests of a deployment (``TARGETS``) and their execution;
- ``render``: the committed example definitions under ``glue/`` and ``emr/``;
- ``commands``: ``lakejobs deploy`` and ``lakejobs deploy render``.
"""
