"""Deploy the pipeline to AWS Glue, Amazon EMR and EMR Serverless from one description.

- ``description``: the pipeline (jobs, scripts, arguments, sizes, stages) and where it lives
  on S3 (``Layout``), with the deployment's settings (``DeployConfig``);
- ``glue``, ``emr``, ``serverless``: each runtime's definitions of one job, rendered from it;
- ``iam``: least-privilege policy documents for the roles the jobs run as;
- ``requests``: the AWS API requests of a deployment (``TARGETS``) and their execution;
- ``preflight``: what a deploy checks on AWS before it uploads (a Glue job of another lake...);
- ``render``: the committed example definitions under ``glue/`` and ``emr/``;
- ``commands``: ``lakejobs deploy`` and ``lakejobs deploy render``.

What a job becomes on each runtime (for an orchestrator that embeds them in its own tasks),
given ``pipeline = sales_pipeline()``, ``job = pipeline.job("convert_orders")`` and a
``DeployConfig``:

- Glue: ``glue.glue_job_name(job, config)`` and ``glue.glue_run_arguments(job, config)``
  (``StartJobRun`` ``Arguments``); the job itself is ``glue.glue_job_definition``;
- EMR: ``emr.emr_step(job, config, action_on_failure)`` (one ``Steps`` entry), the cluster
  ``emr.run_job_flow_request(pipeline, config, with_steps=False)``;
- EMR Serverless: ``serverless.serverless_job_driver(job, config)`` (``jobDriver``) and
  ``serverless.serverless_start_job_run`` (the whole request);
- the order: ``pipeline.stages`` (groups of job keys that may run in parallel).

Lake locations are ``description.LakePath`` values resolved against ``config.layout.root``;
``job.resolved_arguments(root)`` takes any root string (a template too).
"""
