"""Local definitions (``let r = h - y``) and test() at another vector (``test(loss at wbar)``),
docs/language.md §9 and §16: a model written with definitions has the DMFT of the same model
expanded by hand; the test loss of a Polyak average agrees with its closed form, with the
Monte-Carlo pass and with the finite system; every misuse is a located error."""

import numpy as np
import pytest
from typer.testing import CliRunner

import dmftc
from dmftc.cli import app
from dmftc.results.agreement import compare_datasets, verdict

from .conftest import ROOT

# Noisy gradient descent with a step-size schedule and a Polyak average: affine in the Gaussian
# inputs, so the DMFT is the exact closure (no sampling error).
DEFINED = """\
model polyak_ridge
param alpha = 2.0
param lr0   = 0.4
param tau   = 10
param lam   = 0.05
param sigma = 0.3
param temp  = 0.01

data gaussian(ratio = alpha)
teacher wstar ~ normal(0, 1)
label y = hstar + sigma * eps

weights w ~ 0
state wbar ~ 0
predict h = x . w
let r = h - y
loss r^2 / 2
penalty lam * w^2 / 2

let lr_t = lr0 / (1 + t / tau)
let noise = sqrt(2 * lr_t * temp)
update:
    w = w - lr_t * grad(w) + noise * gauss()
    wbar = wbar + (w - wbar) / (t + 1)

let d = wbar - wstar
observe train_loss = train(loss)
observe test_loss  = test(loss)
observe test_avg   = test(loss at wbar)
observe test_at_w  = test(loss at w)
observe test_r2    = test(r^2 / 2)
observe dist       = mean(d^2)
observe q_bar      = mean(wbar^2)
observe m_bar      = mean(wbar * wstar)
"""

EXPANDED = """\
model polyak_ridge_expanded
param alpha = 2.0
param lr0   = 0.4
param tau   = 10
param lam   = 0.05
param sigma = 0.3
param temp  = 0.01

data gaussian(ratio = alpha)
teacher wstar ~ normal(0, 1)
label y = hstar + sigma * eps

weights w ~ 0
state wbar ~ 0
predict h = x . w
loss (h - y)^2 / 2
penalty lam * w^2 / 2

update:
    w = w - lr0 / (1 + t / tau) * grad(w) + sqrt(2 * (lr0 / (1 + t / tau)) * temp) * gauss()
    wbar = wbar + (w - wbar) / (t + 1)

observe train_loss = train(loss)
observe test_loss  = test(loss)
observe test_avg   = test(loss at wbar)
observe test_at_w  = test(loss at w)
observe test_r2    = test((h - y)^2 / 2)
observe dist       = mean((wbar - wstar)^2)
observe q_bar      = mean(wbar^2)
observe m_bar      = mean(wbar * wstar)
"""

STEPS = 30
runner = CliRunner()


def _load(tmp_path_factory, text: str, name: str):
    path = tmp_path_factory.mktemp("models") / f"{name}.dmft"
    path.write_text(text)
    return dmftc.load(path)


@pytest.fixture(scope="module")
def defined(tmp_path_factory):
    return _load(tmp_path_factory, DEFINED, "polyak_ridge")


@pytest.fixture(scope="module")
def exact(defined):
    ds = defined.solve(steps=STEPS)
    assert ds.attrs["mode"] == "exact"
    return ds


def test_definitions_expand_to_the_model_written_out(defined, exact, tmp_path_factory):
    expanded = _load(tmp_path_factory, EXPANDED, "polyak_ridge_expanded")
    title = 2  # the model's name, underlined
    assert defined.derive().render("text").splitlines()[title:] == expanded.derive().render("text").splitlines()[title:]
    by_hand = expanded.solve(steps=STEPS)
    for name in ("train_loss", "test_loss", "test_avg", "test_r2", "dist", "C_theta", "R_theta", "C_g", "R_g"):
        np.testing.assert_allclose(exact[name].values, by_hand[name].values, rtol=1e-12, atol=1e-15, err_msg=name)


def test_the_test_loss_at_a_vector_has_its_closed_form(exact):
    # at the weights it is test(loss); at wbar the square loss gives (q - 2m + E[w*^2] + sigma^2) / 2
    np.testing.assert_allclose(exact.test_at_w, exact.test_loss, rtol=1e-12)
    np.testing.assert_allclose(exact.test_r2, exact.test_loss, rtol=1e-12)
    closed = (exact.q_bar - 2 * exact.m_bar + 1 + 0.3**2) / 2
    np.testing.assert_allclose(exact.test_avg, closed, rtol=1e-10)
    assert exact.test_avg[STEPS] < exact.test_avg[5]


def test_monte_carlo_pass_agrees_with_the_exact_closure(defined, exact):
    # the Monte-Carlo pass of the same module (4 replicas of 1000 samples): within its standard
    # errors of the exact values, Bonferroni-corrected 3 sigma over the steps
    mc = defined.solve(steps=STEPS, mode="monte-carlo", samples=4000, seed=1)
    np.testing.assert_allclose(mc.test_at_w, mc.test_loss, rtol=1e-12)
    for name in ("test_avg", "dist"):
        consistent, sentence = verdict(name, [r for r in compare_datasets(exact, mc) if r.observable == name])
        assert consistent, sentence


def test_polyak_average_agrees_with_the_simulation(defined, exact):
    # 10 runs at d = 1000 against the exact closure: the verdict of compare (every common time,
    # Bonferroni-corrected 3 sigma on the runs' standard error); the finite-size bias O(1/d) is
    # below that standard error at this size
    sim = defined.simulate(steps=STEPS, dim=1000, runs=10, seed=2)
    np.testing.assert_allclose(sim.test_at_w, sim.test_loss, rtol=1e-12)
    for name in ("test_avg", "test_loss", "dist"):
        consistent, sentence = verdict(name, [r for r in compare_datasets(exact, sim) if r.observable == name])
        assert consistent, sentence


def test_bias_of_the_averaged_predictor(defined):
    ds = defined.solve(steps=STEPS, average_over="label-noise")
    np.testing.assert_allclose(ds.test_at_w_bias, ds.test_loss_bias, rtol=1e-12)
    assert np.all(ds.test_avg_bias.values <= ds.test_avg.values + 1e-12)
    assert np.all(ds.test_avg_variance.values[1:] > 0)


# --------------------------------------------------------------------------------- errors

BASE = """\
model m
param alpha = 2.0
param lr = 0.4
data gaussian(ratio = alpha)
teacher wstar ~ normal(0, 1)
label y = hstar
weights w ~ 0
state wbar ~ 0
predict h = x . w
{before}
loss (h - y)^2 / 2
update:
    w = w - lr * grad(w){step}
    wbar = wbar + (w - wbar) / (t + 1)
observe test_loss = test(loss)
{after}
"""


def _case(before="", after="", step=""):
    return BASE.format(before=before, after=after, step=step)


ERRORS = {
    "redefinition": (
        _case("let r = h - y\nlet r = h + y", "observe o = test(r)"),
        (11, 5),
        "'r' is already defined",
    ),
    "clash_with_parameter": (_case("let lr = 1"), (10, 5), "'lr' is already defined"),
    "clash_with_builtin": (_case("let t = 1"), (10, 5), "'t' is a reserved name (the step counter)"),
    "clash_with_function": (_case("let exp = 1"), (10, 5), "'exp' is the name of a function"),
    "use_before_definition": (
        _case(after="observe o = test(r)\nlet r = h - y"),
        (16, 18),
        "'r' is used before its definition",
    ),
    "cycle": (
        _case("let a = b + 1\nlet b = a * 2", "observe o = test(a)"),
        (10, 9),
        "'a' and 'b' are defined in terms of each other",
    ),
    "recursion": (_case("let a = a + 1", "observe o = test(a)"), (10, 9), "'a' is defined in terms of itself"),
    "data_side_name_in_a_parameter_side_definition": (
        _case("let d = w - h", "observe o = mean(d)"),
        (10, 13),
        "'h' is per sample, but 'w' is per coordinate",
    ),
    "data_side_definition_in_the_update": (
        _case("let r = h - y\nlet s = 2 * r", step=" * s"),
        (14, 28),
        "'h' is per sample and cannot be used in the update (a per-coordinate rule), "
        "through the definition of 's' (line 11), which uses 'r' (line 10)",
    ),
    "teacher_in_the_update": (
        _case("let m = 2 * wstar", step=" * m"),
        (13, 28),
        "the optimizer cannot see the teacher 'wstar', through the definition of 'm' (line 10)",
    ),
    "step_counter_in_an_observable": (
        _case("let s = t + 1", "observe o = mean(w * s)"),
        (16, 22),
        "'t' (the step counter) cannot be used in mean()",
    ),
    "unused": (_case("let u = 2 * lr"), (10, 5), "'u' is defined but never used"),
    "grad_in_a_definition": (_case("let g = grad(w)"), (10, 9), "grad() can only be used inside update: or flow:"),
    "assignment_to_a_definition": (
        _case("let r = lr * 2", step=" * r\n    r = 1"),
        (14, 5),
        "cannot assign to 'r': it is a definition (let)",
    ),
    "train_at_a_vector": (_case(after="observe o = train(loss at wbar)"), (16, 13), "train() takes no point"),
    "per_sample_vector": (
        _case(after="observe o = test(loss at h)"),
        (16, 26),
        "'h' is per sample and cannot be used in the point v of test(e at v)",
    ),
    "expression_before_at": (_case(after="observe o = test((h - y)^2 at wbar)"), (16, 28), "unexpected 'at'"),
}


def _check(tmp_path, text: str):
    path = tmp_path / "m.dmft"
    path.write_text(text)
    return runner.invoke(app, ["check", str(path)]), path


@pytest.mark.parametrize("text, at, message", ERRORS.values(), ids=ERRORS.keys())
def test_misuse_is_a_located_error(tmp_path, text, at, message):
    result, path = _check(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert f"{path}:{at[0]}:{at[1]}: error: {message}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "model, message",
    [
        ("dbm_teacher", "test(e at v) is not supported for the matrix family (online data)"),
        ("pspin3_gd", "test() needs a 'data' statement"),
    ],
)
def test_other_classes_have_no_test_at_a_vector(tmp_path, model, message):
    text = (ROOT / "models" / f"{model}.dmft").read_text()
    result, path = _check(tmp_path, text + "observe o = test(loss at w)\n")
    line = text.count("\n") + 1
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}:13: error: {message}" in result.output


@pytest.mark.slow
def test_bundled_polyak_sgd_agrees_with_the_simulation():
    # Monte-Carlo DMFT (10 replicas of 2000 samples: with 4, the standard error of this SGD model
    # is itself too noisy, half the spread over seeds at some steps) against 10 runs at d = 2000:
    # the compare verdict (every common time, Bonferroni-corrected 3 sigma on the combined errors)
    m = dmftc.load(ROOT / "models" / "polyak_sgd_ridge.dmft")
    dmft = m.solve(steps=100, samples=20000, replicas=10, seed=1)
    sim = m.simulate(steps=100, dim=2000, runs=10, seed=2)
    assert dmft.test_avg[100] < dmft.test_loss[100]  # the average beats the last iterate
    for name in ("train_loss", "test_loss", "test_avg", "dist_avg"):
        consistent, sentence = verdict(name, [r for r in compare_datasets(dmft, sim) if r.observable == name])
        assert consistent, sentence


def test_a_temporary_in_a_flow_is_its_expression_written_out(tmp_path):
    # a flow's temporaries are evaluated at the current state: naming the gradient changes
    # nothing (same derivation, same solver, same numbers to rounding)
    bundled = ROOT / "models" / "linear_regression_flow.dmft"
    text = bundled.read_text()
    assert "    dw/dt = -grad(w)\n" in text
    named = tmp_path / "named.dmft"
    named.write_text(text.replace("    dw/dt = -grad(w)\n", "    g = grad(w)\n    dw/dt = -g\n"))
    a, b = dmftc.load(named).solve(steps=30, dt=0.1), dmftc.load(bundled).solve(steps=30, dt=0.1)
    for name in ("gen_error", "train_error", "test_loss"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-12)
