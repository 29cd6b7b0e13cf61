"""Fixtures shared by the test modules (plain helpers live in ``clitools.py`` and ``networks.py``).

Hypothesis profiles, chosen by the environment variable ``HYPOTHESIS_PROFILE``:
``default`` keeps the whole suite fast (properties that do not set ``max_examples``
themselves try 100 examples); ``ci`` (which ``.ci/run`` sets) tries 300, and each CI run
draws new cases; ``thorough`` (2,000, for a long run by hand:
``HYPOTHESIS_PROFILE=thorough python -m pytest``). Neither has a deadline: a first call that
imports NumPy or SymPy is slow, and slowness is the benchmarks' business.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from clitools import ROOT

settings.register_profile("default", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def from_repo_root(monkeypatch):
    """Run the test from the repository root, so paths read as a student types them.

    The CLI test modules use it for every test (``pytestmark = pytest.mark.usefixtures(...)``).
    """
    monkeypatch.chdir(ROOT)
