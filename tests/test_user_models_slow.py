"""The sixteen-model exercise of examples/user_models.py (slow): every verdict of compare says
"within" and no check of verify fails, on models written as a new user writes them.

Each compare verdict is a 3-sigma test Bonferroni-corrected over the 31 steps, with Student's t
for standard errors estimated from 8 replicas and 16 runs: a correct model fails it with
probability 0.3 % an observable, about 1 % for the whole exercise (seeds fixed: the outcome is
deterministic). Finite-size bias at d = 1000 is O(1/d) = 1e-3, below the simulation's standard
errors (3e-3 to 1e-2 at T)."""

import importlib.util

import pytest

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("user_models", ROOT / "examples" / "user_models.py")
user_models = importlib.util.module_from_spec(spec)
spec.loader.exec_module(user_models)


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(user_models.FOLDER.glob("*.dmft")), ids=lambda p: p.stem)
def test_every_verdict_is_within_and_no_check_fails(path):
    result = user_models.exercise(path)
    for consistent, sentence in result["verdicts"].values():
        assert consistent, sentence
    assert not [name for name, status in result["checks"] if status == "fail"], result["checks"]
