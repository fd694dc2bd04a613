"""lakejobs: PySpark batch jobs for AWS Glue, Amazon EMR and a laptop, from one codebase."""

from setuptools import find_packages, setup

setup(
    name="lakejobs",
    version="0.1.0",
    description="PySpark batch jobs for AWS Glue, Amazon EMR and local runs, from one codebase",
    package_dir={"": "lib"},
    packages=find_packages("lib"),
    package_data={"lakejobs": ["conf/*.properties"]},
    python_requires=">=3.9",
    # Job-time dependencies stay within what Glue 5 and EMR 7 already ship, so the plain
    # library zip is enough there; the pinned development stack is in requirements-dev.txt.
    install_requires=["pyspark>=3.5,<3.6"],
    entry_points={"console_scripts": ["lakejobs=lakejobs.cli:main"]},
)
