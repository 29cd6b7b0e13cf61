"""Fixtures shared by the test modules (plain helpers live in ``clitools.py`` and ``networks.py``)."""

from __future__ import annotations

import pytest

from clitools import ROOT


@pytest.fixture
def from_repo_root(monkeypatch):
    """Run the test from the repository root, so paths read as a student types them.

    The CLI test modules use it for every test (``pytestmark = pytest.mark.usefixtures(...)``).
    """
    monkeypatch.chdir(ROOT)
