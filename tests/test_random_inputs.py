"""The random inputs of the Monte-Carlo solver (dmftc/runtime/random.py, docs/math/gaussian_data.md §5.1)."""

import numpy as np
import pytest

import dmftc
from dmftc.classes.gaussian_data.solve import clusters
from dmftc.options import Sampling
from dmftc.runtime.random import law_samples, random_inputs, sobol_uniforms, whiten


def test_sobol_coordinates_are_stratified_and_scramblings_independent():
    # n = 2^k scrambled Sobol points put exactly one point in each interval [i/n, (i+1)/n) of
    # every coordinate (a (0, k, 1)-net in each dimension); two scramblings differ.
    rng = np.random.default_rng(0)
    u = sobol_uniforms(rng, 50, 256)
    assert u.shape == (50, 256) and (u > 0).all() and (u < 1).all()
    for row in u:
        assert (np.sort(np.floor(row * 256)) == np.arange(256)).all()
    assert not np.allclose(u, sobol_uniforms(rng, 50, 256))


def test_whitened_normals_have_exact_moments_and_keep_their_order():
    z = np.random.default_rng(1).standard_normal((6, 400)) * np.arange(1, 7)[:, None] + 3
    w = whiten(z)
    np.testing.assert_allclose(w.mean(axis=1), 0, atol=1e-13)
    np.testing.assert_allclose(w @ w.T / 400, np.eye(6), atol=1e-13)
    # row 0 is row 0 centred and scaled (Gram–Schmidt in order)
    centred = z[0] - z[0].mean()
    np.testing.assert_allclose(w[0], centred / np.sqrt(np.mean(centred**2)), rtol=1e-12)


@pytest.mark.parametrize("sampling", [s.value for s in Sampling])
def test_every_sampling_gives_the_laws(sampling):
    u, z = random_inputs(np.random.default_rng(2), sampling, 4096, 3, 2)
    assert u.shape == (3, 4096) and z.shape == (2, 4096)
    x = law_samples(("normal", "rademacher", "uniform"), u)
    # 4096 samples: the moments within 5 standard errors of their values
    for value, mean, sd in ((x[:, 0], 0, 1), (x[:, 1], 0, 1), (x[:, 2], 0.5, 12**-0.5), (z[0], 0, 1)):
        assert abs(value.mean() - mean) < 5 * sd / 64
    c = clusters(u[0], 0.4)
    assert set(np.unique(c)) <= {-1.0, 0.0, 1.0} and abs(np.mean(c != 0) - 0.4) < 5 * 0.49 / 64
    if sampling == "antithetic":  # the second half mirrors the first
        np.testing.assert_array_equal(x[2048:, 1], -x[:2048, 1])
        np.testing.assert_array_equal(c[2048:], -c[:2048])


def test_quasi_random_inputs_are_unbiased_and_far_more_accurate_on_logistic_gd():
    # 8 seeds (one replica of 2048 samples each) per sampling, T = 15. Measured on this case:
    # standard deviation of the train loss over seeds 7.0e-3 (antithetic) against 1.5e-4 (Sobol),
    # a ratio of ~45; the test asks for 5, far outside the noise of an 8-seed estimate of a
    # standard deviation (±25 %). The means agree within 4 combined standard errors.
    m = dmftc.load("logistic_gd")
    runs = {
        sampling: np.array(
            [
                float(m.solve(steps=15, samples=2048, replicas=1, seed=seed, sampling=sampling)["train_loss"][-1])
                for seed in range(8)
            ]
        )
        for sampling in ("antithetic", "sobol")
    }
    sd = {k: v.std(ddof=1) for k, v in runs.items()}
    assert sd["sobol"] * 5 < sd["antithetic"], sd
    combined = np.sqrt((sd["sobol"] ** 2 + sd["antithetic"] ** 2) / 8)
    assert abs(runs["sobol"].mean() - runs["antithetic"].mean()) < 4 * combined


def test_samples_are_rounded_to_a_power_of_two_per_replica_with_quasi_random_inputs():
    m = dmftc.load("logistic_gd")
    # the nearest power of 2 on a log scale: 1500 -> 2048, 1400 -> 1024
    assert m.solve(steps=2, samples=3000, replicas=2).attrs["samples"] == 4096
    assert m.solve(steps=2, samples=2800, replicas=2).attrs["samples"] == 2048
    assert m.solve(steps=2, samples=3000, replicas=2, sampling="antithetic").attrs["samples"] == 3000
