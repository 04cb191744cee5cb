"""The choice of --responses auto (docs/math/gaussian_data.md §4, eq. glm-cost): a pilot of 4
replicas of 1024 samples over 32 steps measures the variances of Stein's and the Jacobian
estimator, and the run takes the cheaper at equal error; a Stein run that fails is solved again
with Jacobians; no pilot where it cannot pay or cannot be checked."""

import dataclasses

import numpy as np
import pytest

import dmftc
from dmftc.errors import SolverError

from .conftest import ROOT


def test_the_pilot_takes_stein_where_jacobians_cost_more_at_equal_error():
    # Adam, 200 steps, 4 replicas of 4096 samples: Jacobian histories cost about 13 times the
    # pass; the pilot's errors make Stein the cheaper at equal error
    # (benchmarks/results_estimators.md), whatever the run's seed
    m = dmftc.load(ROOT / "models" / "adam_logistic.dmft")
    runs = [m.solve(steps=200, samples=16384, seed=seed) for seed in (0, 3)]
    choices = {ds.attrs["responses_choice"] for ds in runs}
    assert len(choices) == 1  # the pilot has its own seed: the same choice for every run seed
    assert choices.pop().startswith("pilot (4 x 1024 samples, 50 steps): Stein, ")
    assert {ds.attrs["responses_parameter_side"] for ds in runs} == {"stein"}


def test_a_failing_stein_run_is_solved_again_with_jacobians(monkeypatch):
    # the diagonal network over 100 steps: Stein passes a 32-step pilot, then diverges or ends
    # orders of magnitude off (§4). Its own pilot keeps the rule here, so the pilot is made to
    # pick Stein: the run must notice and solve again with the rule's Jacobians.
    from dmftc.classes.gaussian_data import solve

    def pick_stein(run, module, settings):
        return dataclasses.replace(settings, param_method=2, data_method=1), "pilot: Stein"

    monkeypatch.setattr(solve, "pilot_choice", pick_stein)
    monkeypatch.setattr(solve, "needs_pilot", lambda settings, replicas: True)
    m = dmftc.load(ROOT / "models" / "diagonal_network.dmft")
    ds = m.solve(steps=100, samples=4096)
    assert ds.attrs["responses_choice"] == (
        "pilot: Stein; it failed over the whole run, Jacobians on 1024 samples instead"
    )
    assert ds.attrs["responses_parameter_side"] == "jacobian (per sample)"
    jacobians = m.solve(steps=100, samples=4096, responses="jacobian")
    np.testing.assert_array_equal(ds.train_loss.values, jacobians.train_loss.values)


def test_stein_taken_for_lack_of_memory_is_replaced_by_jacobians_when_it_fails(monkeypatch):
    # Past the memory budget of the Jacobian histories (ridge GD by Monte Carlo at T = 2000 with
    # 1024 samples a replica: 64 of them fit), the rule takes Stein's responses; there, Stein
    # diverged at step 1196 and the error blamed the learning rate. Such a run is solved again
    # with Jacobians on the samples that fit. Shrunk here: the diagonal network over 100 steps,
    # with a budget that holds 64 histories; Stein diverges on it (the test above).
    from dmftc.classes.gaussian_data import solve

    per_sample = 101 * 102 // 2 * 8
    monkeypatch.setattr(solve, "HISTORY_BUDGET_BYTES", 2 * 64 * per_sample)
    m = dmftc.load(ROOT / "models" / "diagonal_network.dmft")
    ds = m.solve(steps=100, samples=4096)
    assert ds.attrs["responses_choice"] == (
        "Stein's responses (the rule: the Jacobian histories of all samples exceed the memory); "
        "it failed over the whole run, Jacobians on 64 samples instead"
    )
    assert ds.attrs["responses_parameter_side"] == "jacobian (per sample)"
    jacobians = m.solve(steps=100, samples=4096, responses="jacobian")
    np.testing.assert_array_equal(ds.train_loss.values, jacobians.train_loss.values)
    with pytest.raises(SolverError, match="diverges") as error:  # the user's own choice is kept
        m.solve(steps=100, samples=4096, responses="stein")
    assert "try --responses jacobian" in error.value.hint


@pytest.mark.slow
def test_the_pilot_rules_out_stein_where_it_diverges():
    # the diagonal network over 200 steps (4 replicas of 4096 samples): Stein diverges within
    # the pilot's 50 steps at 1024 or 256 samples, and the run keeps the rule's Jacobians (~1 min)
    ds = dmftc.load(ROOT / "models" / "diagonal_network.dmft").solve(steps=200, samples=16384)
    assert ds.attrs["responses_choice"] == "pilot (4 x 1024 samples, 50 steps): Stein's estimator diverged; Jacobians"


@pytest.mark.parametrize(
    "options",
    [dict(steps=30), dict(steps=200), dict(steps=200, samples=16384, replicas=1), dict(steps=200, samples=512)],
)
def test_no_pilot_where_it_cannot_pay_or_be_checked(options):
    # 30 steps: no longer than the pilot; the default 4 x 1024 samples over 200 steps: the pilot
    # would cost more than an eighth of the run; one replica: a Stein run could not be checked;
    # 128 samples per replica over 200 steps: too few for Stein
    ds = dmftc.load(ROOT / "models" / "adam_logistic.dmft").solve(**options)
    assert ds.attrs["responses_choice"].startswith("rule")
