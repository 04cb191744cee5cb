"""compare: both sides' errors combined, a floor at the rounding level, every common time judged."""

import numpy as np
import pytest

from dmftc.results import agreement, compare
from dmftc.results import dataset as results

TIME = np.arange(41.0)


def _result(values, sem=None):
    return results.make_dataset(
        {"loss": np.asarray(values, dtype=float)},
        TIME,
        sem=None if sem is None else {"loss": np.asarray(sem, dtype=float)},
    )


def test_both_sides_errors_are_combined():
    a = _result(np.full(41, 1.0), np.full(41, 0.03))  # a Monte-Carlo solve with its replicas' error
    b = _result(np.full(41, 1.1), np.full(41, 0.04))  # a simulation
    rows = agreement.compare_datasets(a, b)
    assert all(row.z == pytest.approx(-0.1 / 0.05) for row in rows)  # hypot(0.03, 0.04) = 0.05


def test_equal_values_are_equal_whatever_the_rounding_of_the_error():
    # both sides 0.5; the simulation's error 1e-17 is rounding (it gave z = 342 before the floor)
    a = _result(np.full(41, 0.5))
    b = _result(np.full(41, 0.5) + 1e-16, np.full(41, 1e-17))
    consistent, sentence = agreement.verdict("loss", agreement.compare_datasets(a, b))
    assert consistent and "max |z| = 0.00" in sentence


def test_every_common_time_is_judged_and_the_worst_is_named():
    values = np.full(41, 1.0)
    values[25] = 1.0 + 6.79 * 0.01  # one deviant step between the rows a table would show
    a, b = _result(values), _result(np.full(41, 1.0), np.full(41, 0.01))
    rows = agreement.compare_datasets(a, b)
    assert len(rows) == 41
    consistent, sentence = agreement.verdict("loss", rows)
    assert not consistent and "at time 25" in sentence and "over 41 common times" in sentence
    assert 25.0 in [row.time for row in compare._shown(rows)]  # the table shows the worst step


def test_the_verdict_level_is_corrected_for_the_number_of_times():
    assert agreement.z_limit(1) == pytest.approx(3.0, abs=1e-9)
    assert 3.8 < agreement.z_limit(41) < 4.0
    # a 3.5-sigma deviation at one of 41 steps is within what 41 comparisons produce by chance
    values = np.full(41, 1.0)
    values[10] += 0.035
    consistent, _ = agreement.verdict(
        "loss", agreement.compare_datasets(_result(values), _result(np.full(41, 1.0), np.full(41, 0.01)))
    )
    assert consistent


def test_errors_from_few_runs_are_judged_with_students_t():
    # z = (a - b)/s follows Student's t with k - 1 degrees of freedom when s comes from k runs:
    # 4 replicas give a standard error that is itself uncertain by ~40 %, and a z of 6 happens
    values = np.full(41, 1.0)
    values[10] += 0.06
    exact, simulated = _result(values), _result(np.full(41, 1.0), np.full(41, 0.01))
    assert not agreement.verdict("loss", agreement.compare_datasets(exact, simulated))[0]
    simulated.attrs["runs"] = 4
    rows = agreement.compare_datasets(exact, simulated)
    assert all(row.dof == 3 for row in rows)
    consistent, sentence = agreement.verdict("loss", rows)
    assert consistent and "Student's t with 3 degrees of freedom" in sentence
    assert agreement.z_limit(1, 3) == pytest.approx(9.2189, abs=1e-3)  # t_3 quantile of 1 - 0.00135
    # both sides estimated: the Welch–Satterthwaite number, between the two
    assert agreement._welch(0.01, 3.0, 0.01, 19.0) == pytest.approx((2e-4) ** 2 / (1e-8 / 3 + 1e-8 / 19))
