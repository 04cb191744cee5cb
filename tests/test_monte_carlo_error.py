"""A Monte-Carlo solve carries an honest standard error: the spread of independent replicas.

The samples are split into replicas (4 by default) with independent random streams; the result is
their mean, and ``<name>_sem`` is their standard deviation over sqrt(replicas). Over 8 seeds the
spread of the result must match the error it reports: the ratio of the seed-to-seed standard
deviation to the rms reported error is 1 in expectation; with 8 seeds and 3 degrees of freedom per
error estimate it lies in [0.45, 2.2] with probability above 99 % (chi distributions; the bounds
are wide because the check is about the order of the error, not its third digit).
"""

import numpy as np

import dmftc


def test_the_reported_error_covers_the_seed_to_seed_spread():
    model = dmftc.load("logistic_gd")
    runs = [model.solve(steps=15, samples=2000, seed=seed) for seed in range(8)]
    for name in ("train_loss", "test_loss", "sq_norm"):
        values = np.array([float(ds[name][-1]) for ds in runs])
        reported = np.sqrt(np.mean([float(ds[f"{name}_sem"][-1]) ** 2 for ds in runs]))
        ratio = values.std(ddof=1) / reported
        assert 0.45 < ratio < 2.2, (name, ratio)
    # 2000 samples in 4 replicas of 512 (quasi-random inputs: a power of 2 per replica)
    assert runs[0].attrs["replicas"] == 4 and runs[0].attrs["samples"] == 2048


def test_one_replica_reports_no_error_and_exact_solves_none():
    assert "train_loss_sem" not in dmftc.load("logistic_gd").solve(steps=3, samples=400, replicas=1)
    assert "train_loss_sem" not in dmftc.load("ridge_gd").solve(steps=3)
