"""Limits of a run (issue 15, items 17 and 21): the memory a run needs is estimated and a run that
cannot fit is refused before anything is allocated; parameter values are numbers as the model
language writes them, and a bad one is an error at its ``param`` line; option values are checked
(numpy scalars accepted)."""

import re
import tracemalloc

import numpy as np
import pytest
from typer.testing import CliRunner

import dmftc
from dmftc import classes
from dmftc import options as opts
from dmftc.cli import app
from dmftc.errors import ParameterError, SolverError
from dmftc.results import sweep
from dmftc.runtime import memory

from .conftest import ROOT

runner = CliRunner()
LIMIT = 2**30  # the memory the tests pretend is available: 1 GiB


@pytest.fixture
def one_gib(monkeypatch):
    monkeypatch.setattr(memory, "available", lambda: LIMIT)


@pytest.fixture
def no_runs(monkeypatch):
    """Every class's solve and simulate fail the test if called: a refusal must come first."""

    def called(*args, **kwargs):
        raise AssertionError("a solver ran")

    for model_class in classes.REGISTRY.values():
        monkeypatch.setattr(model_class, "solve", called)
        monkeypatch.setattr(model_class, "simulate", called)


def _largest(output: str, flag: str) -> int:
    found = re.search(re.escape(flag) + r" (\d+)", output)
    assert found, output
    return int(found.group(1))


def _line(start: str) -> int:
    """The line of ridge_gd.dmft that starts with ``start``."""
    lines = (ROOT / "models" / "ridge_gd.dmft").read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.startswith(start))


def _fits(m, command: str, given: dict) -> bool:
    resolved = opts.resolve(command, m.model_class, m.model, given)
    return m.model_class.memory(m, command, resolved) <= LIMIT


# ---------------------------------------------------------------------------------- memory


@pytest.mark.parametrize(
    ("model", "command", "flag", "value", "given"),
    [
        ("ridge_gd", "solve", "--steps", 100_000, {"method": "dmft"}),  # exact closure: O(T²) two-time arrays
        ("ridge_gd", "solve", "--steps", 1_000_000_000, {}),  # spectral solver: O(T) moment sums
        ("logistic_gd", "solve", "--samples", 1_000_000_000, {"steps": 50}),  # Monte Carlo: O(M T)
        ("logistic_gd", "solve", "--steps", 100_000, {}),  # Jacobian histories and two-time arrays
        ("ridge_gd", "simulate", "--dim", 10_000_000, {}),  # the data matrix: O(d²)
        ("pspin3_gd", "simulate", "--dim", 10_000_000, {}),  # a sign per diluted term: O(K d)
        ("goe_relaxation", "simulate", "--dim", 100_000, {}),  # the N x N matrix and step map
    ],
)
def test_a_run_too_large_is_refused_at_once_with_the_largest_size_that_fits(
    one_gib, no_runs, model, command, flag, value, given
):
    extra = [item for name, v in given.items() for item in (f"--{name}", str(v))]
    result = runner.invoke(app, [command, model, flag, str(value), *extra, "-q"])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, AssertionError), "a solver ran before the refusal"
    assert "Traceback" not in result.output
    assert f"{command} {model} needs about" in result.output and "1 GiB is available" in result.output
    best = _largest(result.output, flag)
    m = dmftc.load(model)
    name = flag.removeprefix("--")
    assert _fits(m, command, given | {name: best})
    assert not _fits(m, command, given | {name: best + 1})


@pytest.mark.parametrize(
    ("model", "command", "given"),
    [
        ("ridge_gd", "solve", {"steps": 500}),  # exact closure
        # Jacobian histories: the estimate covers them, as --responses auto may take them (its
        # pilot picks Stein at these sizes, which needs less)
        ("ridge_gd", "solve", {"steps": 60, "samples": 6000, "mode": "monte-carlo", "responses": "jacobian"}),
        ("logistic_gd", "solve", {"steps": 60, "samples": 6000, "responses": "jacobian"}),
        # the decimated history (beyond 2000 steps): Jacobian histories over the slots
        ("logistic_gd", "solve", {"steps": 2100, "samples": 1024, "log_steps": 32}),
        ("ridge_gd", "simulate", {"steps": 20, "dim": 1500, "runs": 2}),
        ("pspin3_gd", "solve", {"steps": 400}),
        ("pspin2_flow", "simulate", {"steps": 10, "dim": 2000, "runs": 2}),
        ("goe_relaxation", "solve", {"steps": 300}),
        ("goe_relaxation", "simulate", {"steps": 200, "dim": 500, "runs": 2}),
    ],
)
def test_the_estimate_is_within_a_factor_2_of_the_peak(model, command, given):
    # sizes where the arrays dominate (5-90 MiB); numpy reports its arrays to tracemalloc
    m = dmftc.load(model)
    getattr(m, command)(**(given | {"steps": 3}))  # compile first
    estimate = m.model_class.memory(m, command, opts.resolve(command, m.model_class, m.model, given))
    tracemalloc.start()
    try:
        getattr(m, command)(**given)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.5 <= estimate / peak <= 2, (estimate, peak)


def test_the_estimate_of_each_class_grows_with_the_steps():
    for model, command in [
        ("ridge_gd", "solve"),
        ("ridge_gd", "simulate"),
        ("pspin3_flow", "solve"),
        ("pspin3_gd", "simulate"),
        ("wishart_flow", "solve"),
        ("goe_relaxation", "simulate"),
        ("dbm_teacher", "solve"),
        ("dbm_teacher", "simulate"),
    ]:
        m = dmftc.load(model)
        sizes = [
            m.model_class.memory(m, command, opts.resolve(command, m.model_class, m.model, {"steps": T}))
            for T in (10, 100, 1000)
        ]
        assert 0 < sizes[0] < sizes[1] < sizes[2], (model, command, sizes)


def test_the_api_refuses_too(one_gib, no_runs):
    with pytest.raises(SolverError, match="needs about") as caught:
        dmftc.load("ridge_gd").solve(steps=np.int64(100_000), method="dmft")
    assert caught.value.kind == "memory" and "--steps" in caught.value.hint


def test_a_sweep_too_large_is_refused_before_its_points_exist(one_gib, no_runs, monkeypatch):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a Dask cluster was started")

    monkeypatch.setattr(sweep, "_client", no_cluster)
    result = runner.invoke(app, ["sweep", "ridge_gd", "-p", "lr=0:1:1000000", "-q"])
    assert result.exit_code == 2, result.output
    assert "sweep ridge_gd over 1000000 points needs about" in result.output
    best = int(re.search(r"(\d+) grid points", result.output).group(1))
    m = dmftc.load("ridge_gd")
    opts.check_sweep_memory(m, {}, best, local=True)  # accepted
    with pytest.raises(SolverError, match="needs about"):
        opts.check_sweep_memory(m, {}, best + 1, local=True)


def test_a_swept_range_too_large_to_hold_is_refused_before_its_values_exist(one_gib, monkeypatch):
    def no_values(*args, **kwargs):
        raise AssertionError("the range was built")

    monkeypatch.setattr(np, "linspace", no_values)
    with pytest.raises(SolverError, match="a range of 100000000000 values of 'lr' needs about"):
        sweep.parse_values("lr", "0:1:100000000000")


# ------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize("text", ["0_1", "1_000.5", "inf", "-inf", "nan", "0x10", "１", "1e5_0", "1 2", "", "--1"])
def test_a_parameter_value_the_model_language_would_not_read_is_an_error_at_its_line(text):
    result = runner.invoke(app, ["check", "ridge_gd", "-p", f"lr={text}"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = next(
        i for i, s in enumerate((ROOT / "models" / "ridge_gd.dmft").read_text().splitlines(), 1) if "param lr" in s
    )
    if text:  # an empty value is a malformed -p
        assert f"ridge_gd.dmft:{line}:" in result.output and "parameter 'lr'" in result.output


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("0.1", 0.1),
        ("-2", -2.0),
        ("+1", 1.0),
        ("1e-3", 1e-3),
        (".5", 0.5),
        ("2.", 2.0),
        (" 3 ", 3.0),
        (np.int64(3), 3.0),
        (np.float32(0.5), 0.5),
        (np.float64(0.25), 0.25),
        (7, 7.0),
    ],
)
def test_numbers_are_accepted_as_parameter_values(value, number):
    params = dmftc.load("ridge_gd", lr=value).params
    assert params["lr"] == number and type(params["lr"]) is float


@pytest.mark.parametrize("value", [True, "0_1", [0.1], None, np.bool_(True), float("nan"), 10**400])
def test_other_values_of_a_parameter_are_refused_in_python_too(value):
    with pytest.raises(ParameterError, match="parameter 'lr'") as caught:
        dmftc.load("ridge_gd", lr=value)
    assert caught.value.line is not None


def test_an_unknown_parameter_has_a_suggestion():
    result = runner.invoke(app, ["check", "ridge_gd", "-p", "lrr=0.1"])
    assert result.exit_code == 2
    assert "unknown parameter 'lrr'" in result.output and "did you mean 'lr'?" in result.output


def test_a_value_the_model_cannot_run_with_points_at_the_param_line():
    # alpha = -1 passes as a number; the data statement needs a positive ratio
    result = runner.invoke(app, ["solve", "ridge_gd", "-p", "alpha=-1", "--steps", "3", "-q"])
    assert result.exit_code == 2, result.output
    line = _line("param alpha")
    assert f"ridge_gd.dmft:{line}:" in result.output and "the data ratio must be positive, got -1" in result.output
    assert "param alpha = 2.0" in result.output and "hint: from alpha = -1" in result.output
    m = dmftc.load("ridge_gd", alpha=-1)  # the simulator's estimate meets it first
    with pytest.raises(SolverError, match="the data ratio") as caught:
        m.model_class.memory(m, "simulate", opts.resolve("simulate", m.model_class, m.model, {}))
    assert caught.value.kind == "bad-parameter" and caught.value.line == line


def test_a_swept_value_is_a_number_of_the_language():
    assert sweep.parse_values("lr", "0.1:0.3:3") == pytest.approx([0.1, 0.2, 0.3])
    assert sweep.parse_values("lr", "-1,2e-1") == [-1.0, 0.2]
    for text in ("0_1", "0_1:1:3", "0.1,inf", "nan"):
        with pytest.raises(ParameterError, match="parameter 'lr'"):
            sweep.parse_values("lr", text)


# --------------------------------------------------------------------------------- options


def test_a_negative_seed_is_a_clean_error():
    result = runner.invoke(app, ["solve", "ridge_gd", "--seed", "-1", "--steps", "3", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output and "--seed" in result.output
    with pytest.raises(SolverError, match="--seed must be at least 0"):
        dmftc.load("ridge_gd").solve(seed=-1, steps=3)


@pytest.mark.parametrize("dt", [-1.0, 0.0, float("nan"), float("inf")])
def test_the_api_refuses_a_time_step_that_is_not_positive_and_finite(no_runs, dt):
    with pytest.raises(SolverError, match="--dt"):
        dmftc.load("ridge_flow").solve(dt=dt, steps=3)


@pytest.mark.parametrize(("samples", "replicas"), [(1, 1), (1, 4), (7, 4), (3, 2)])
def test_a_monte_carlo_solve_needs_two_samples_per_replica(no_runs, samples, replicas):
    with pytest.raises(SolverError, match="--samples"):
        dmftc.load("logistic_gd").solve(samples=samples, replicas=replicas, steps=3)


def test_numpy_scalars_are_accepted_as_options():
    m = dmftc.load("ridge_flow")
    given = {"steps": np.int64(5), "seed": np.int32(1), "dt": np.float32(0.5), "samples": np.int64(8)}
    resolved = opts.resolve("solve", m.model_class, m.model, given)
    assert (resolved["steps"], resolved["seed"], resolved["dt"], resolved["samples"]) == (5, 1, 0.5, 8)
    assert all(type(resolved[name]) in (int, float) for name in given)
    assert opts.resolve("solve", m.model_class, m.model, {"samples": 8, "replicas": 4})["samples"] == 8
