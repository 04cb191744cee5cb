"""The optimizer models against the finite-size system of the same model file.

``assert_agrees`` (tests/test_vs_simulation.py) allows 6 standard errors of the simulation plus
3 % of the value in Monte-Carlo mode (0 in exact mode). The 3 % must be about three standard
deviations of the DMFT's own Monte-Carlo error, so the sample counts below are chosen to keep
that standard deviation at or below 1 % of the value at steps 1, T/2 and T (measured over 12
seeds; the worst observable in brackets):

* T = 8, M = 20000: sgd_ridge 0.91 % (train loss), clipped_ridge 0.83 % (overlap),
  signsgd_logistic 0.82 % (overlap), rmsprop_logistic 0.66 % (squared norm). Selections drawn
  per sample are noisier: sgd_epochs_ridge 1.84 % (squared norm at step 1, through the random
  share of samples in the first batch) and psgd_logistic 1.20 % (train error), hence 80000
  and 40000 samples (0.92 %, 0.85 %). diagonal_network_flow: 1.5 % at 20000 (overlap, through
  the sampled share of non-zero teacher coordinates), 0.75 % at 80000 (8 seeds).
  sgd_flip_weight_decay: 1.64 % at 20000 (train error, an indicator), 0.82 % at 80000 (8 seeds).
* T = 30, M = 40000: clipped_ridge 0.62 %, signsgd_logistic 0.46 %; rmsprop_logistic 1.41 %
  (train loss at step 30) and sgd_epochs_ridge about 1.3 %, hence 160000 samples (0.7 %, 0.5 %);
  psgd_logistic 0.70 % at 80000; diagonal_network_flow 0.68 % at 160000 (8 seeds);
  sgd_flip_weight_decay 2.28 % at 40000 (train error at step 30), hence 240000 (0.93 %).
"""

import pytest

from .test_vs_simulation import assert_agrees

MODELS = [
    "sgd_ridge",
    "sgd_epochs_ridge",
    "psgd_logistic",
    "clipped_ridge",
    "signsgd_logistic",
    "rmsprop_logistic",
    "langevin_flow_ridge",
    "logistic_flow",
    "diagonal_network_flow",
    "sgd_flip_weight_decay",
]
SMALL_SAMPLES = {
    "sgd_epochs_ridge": 80000,
    "psgd_logistic": 40000,
    "diagonal_network_flow": 80000,
    "sgd_flip_weight_decay": 80000,
}
LARGE_SAMPLES = {
    "sgd_epochs_ridge": 160000,
    "psgd_logistic": 80000,
    "rmsprop_logistic": 160000,
    "diagonal_network_flow": 160000,
    "sgd_flip_weight_decay": 240000,
}


@pytest.mark.parametrize("name", MODELS)
def test_small_system_agrees(name):
    assert_agrees(name, steps=8, dim=300, samples=SMALL_SAMPLES.get(name, 20000))


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_large_system_agrees(name):
    assert_agrees(name, steps=30, dim=2000, samples=LARGE_SAMPLES.get(name, 40000))
