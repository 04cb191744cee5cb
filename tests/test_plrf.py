"""Power-law random features trained by one-pass SGD (models/plrf_sgd.dmft, the setting of
Paquette et al. 2024 in the proportional limit): the DMFT against the Volterra recursion of the
finite system given its features (tests/oracles.py) and against simulation, in two phases."""

import numpy as np
import pytest

import dmftc

from .conftest import ROOT
from .oracles import plrf_expected_loss
from .test_matrix_program import consistent

MODEL = ROOT / "models" / "plrf_sgd.dmft"
# Phases of the (alpha, beta) plane as Paquette et al. label them (boundaries 2 alpha = 1,
# 2 beta = 1, alpha = beta): Ia has 2 beta < 1 < 2 alpha; III has 1 < 2 alpha < 2 beta.
PHASES = {"Ia": dict(alpha=0.8, beta=0.3), "III": dict(alpha=0.6, beta=0.8)}


@pytest.mark.parametrize("phase", PHASES)
def test_the_dmft_is_the_volterra_recursion_of_the_features(phase):
    # The oracle is exact in expectation over the data for v = 1500 latent coordinates and one
    # draw of the features; the DMFT is its v -> infinity limit. The tolerance, step by step: 4
    # standard errors of the mean of 6 draws (the draws spread by up to 2 % in phase III) plus
    # 1 % for the finite v (measured: at most 0.6 % at v = 1500, 0.4 % at v = 3000). A small batch
    # (bsz = 0.1) makes the gradient noise of the batch matter: without its feed into the modes
    # the loss at t = 60 is 4 % (Ia) and 10 % (III) lower, which this tolerance would catch.
    params = PHASES[phase] | dict(nu=0.5, bsz=0.1, K=200, lr=0.5)
    ds = dmftc.load(MODEL, **params).solve(steps=60)
    draws = np.array([plrf_expected_loss(**params, v=1500, T=60, seed=seed) for seed in range(6)])
    mean, sem = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(ds.test_loss.values - mean) <= 4 * sem + 0.01 * mean)
    # the loss falls by an order of magnitude or more over the run: the comparison sees the dynamics
    assert ds.test_loss.values[-1] < 0.15 * ds.test_loss.values[0]


@pytest.mark.parametrize("phase", PHASES)
def test_the_dmft_against_simulation(phase):
    # 10 runs at v = 1000 (d = 500 features, 250 fresh samples a step), the compare limit
    m = dmftc.load(MODEL, **PHASES[phase], K=50)
    consistent(m.solve(steps=40), m.simulate(steps=40, dim=1000, runs=10, seed=3), ["test_loss", "batch_loss"])
