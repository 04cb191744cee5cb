"""The optimizer models against the finite-size system of the same model file.

Tolerances are those of tests/test_vs_simulation.py (``assert_agrees``: 6 standard errors of
the simulation plus 3 % of the value in Monte-Carlo mode, 0 in exact mode). The 3 % allowance
covers the DMFT's own Monte-Carlo error; for these models its standard deviation over 4 seeds at
M = 20000 is at most 1.0 % of the value at steps 1, 4 and 8 (measured: docs/optimizers.md).
"""

import pytest

from .test_vs_simulation import assert_agrees

MODELS = ["sgd_ridge", "sgd_epochs_ridge", "psgd_logistic", "clipped_ridge", "signsgd_logistic",
          "rmsprop_logistic", "langevin_flow_ridge", "diagonal_network_flow"]


@pytest.mark.parametrize("name", MODELS)
def test_small_system_agrees(name):
    assert_agrees(name, steps=8, dim=300, samples=20000)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_large_system_agrees(name):
    assert_agrees(name, steps=30, dim=2000, samples=40000)
