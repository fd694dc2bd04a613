"""A stand-in for AWS Glue's ``awsglue`` package, for tests only (the real one exists only inside Glue).

It keeps the parts ``lakejobs.runtime`` uses, with the real signatures: ``GlueContext(sc)``
and its ``spark_session``, ``Job(glue_context)`` with ``init(job_name, args)`` and
``commit()``, and ``getResolvedOptions(argv, names)``. ``awsglue.job.CALLS`` records what a
run did, so a test can check that ``Job.init`` came before ``Job.commit``.
"""
