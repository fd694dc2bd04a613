"""The committed state machines and IAM policies under ``stepfunctions/``.

A definition holds no bucket, prefix or account: they come from the execution input. The
policies name region and account as CloudFormation pseudo parameters. ``make
stepfunctions`` (``python -m lakejobs.orchestrate.render``) rewrites them, and a test fails
when the files differ from what rendering makes.
"""

import json
from pathlib import Path
from typing import Dict, List, Optional

from lakejobs.deploy.deployer_iam import stepfunctions_deployer_policy
from lakejobs.deploy.description import DeployConfig, Pipeline, sales_pipeline
from lakejobs.deploy.render import EXAMPLE
from lakejobs.orchestrate.iam import POLICIES
from lakejobs.orchestrate.machines import MACHINES

FOLDER = "stepfunctions"
#: Rendering settings: the deploy defaults (Delta tables, zip library), region us-east-1.
CONFIG = DeployConfig(bucket="unused", region="us-east-1")


def to_json(document: object) -> str:
    """A definition as committed: two-space indented JSON and a final newline."""
    return json.dumps(document, indent=2) + "\n"


def rendered_files(pipeline: Optional[Pipeline] = None, config: DeployConfig = CONFIG) -> Dict[str, str]:
    """Relative path -> text of every committed state machine and policy."""
    pipeline = pipeline or sales_pipeline(config.output_format, config.incremental)
    files = {}
    for runtime, machine in MACHINES.items():
        files[f"{FOLDER}/{runtime}.asl.json"] = to_json(machine(pipeline, config))
        files[f"{FOLDER}/{runtime}.iam.json"] = to_json(POLICIES[runtime](pipeline, config))
    # Who deploys them (``lakejobs deploy --target stepfunctions``): named with the example
    # account and role of ``glue/`` and ``emr/``, since a policy cannot take execution input.
    files[f"{FOLDER}/deployer.iam.json"] = to_json(stepfunctions_deployer_policy(EXAMPLE))
    return files


def differences(root: Path) -> List[str]:
    """Committed files missing or different from what rendering makes."""
    return sorted(path for path, text in rendered_files().items() if _read(root / path) != text)


def _read(path: Path) -> Optional[str]:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def write_rendered(root: Path) -> List[str]:
    """Write every file under ``root``; return the ones that changed."""
    changed = differences(root)
    for path, text in rendered_files().items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return changed


if __name__ == "__main__":
    from lakejobs.session import project_root

    changed_paths = write_rendered(project_root())
    for changed_path in changed_paths:
        print(f"rendered: {changed_path}")
    print(f"{len(changed_paths)} file(s) changed under {project_root() / FOLDER}")
