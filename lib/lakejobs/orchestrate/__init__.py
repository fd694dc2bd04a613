"""Step Functions orchestration of the pipeline, rendered from ``lakejobs.deploy``'s description.

- ``asl``: States Language building blocks (run-time S3 locations, Retry, Catch, notify);
- ``machines``: one state machine per runtime (Glue, EMR on EC2, EMR Serverless);
- ``iam``: the policy each state machine's role needs;
- ``graph``: every path through a definition (used to check Retry/Catch and clean-up);
- ``render``: the committed files under ``stepfunctions/``;
- ``requests``: the ``stepfunctions`` deploy target (CreateStateMachine / UpdateStateMachine);
- ``run``: start an execution and follow its states (``lakejobs pipeline start``).
"""
