"""Fixtures shared by the job tests."""

import pytest


@pytest.fixture
def products(tmp_path):
    """``tmp_path`` with ``in/p.csv``: two good rows of ``sku STRING NOT NULL, price DECIMAL(10,2)``."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_text("a1,1.50\nb2,2.00\n")
    return tmp_path
