"""dmftc verify: every bundled model passes; a wrong published form fails with the difference."""

import pytest
import sympy as sp
from typer.testing import CliRunner

import dmftc
from dmftc.classes.gaussian_data import verify as data_checks
from dmftc.classes.gaussian_field.verify import fluctuation_dissipation
from dmftc.cli import app
from dmftc.verify import run_checks as verify
from dmftc.verify.checks import FAIL, PASS
from dmftc.verify.published import equivalent

from .conftest import MODELS, ROOT

runner = CliRunner()
RIDGE = ROOT / "models" / "ridge_gd.dmft"


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_every_bundled_model_passes(path):
    checks = verify(dmftc.load(path))
    assert not [c for c in checks if c.status == FAIL], checks
    assert any(c.status == PASS for c in checks)


def test_published_form_of_gradient_descent(tmp_path):
    published = tmp_path / "gerbelot.txt"
    published.write_text(
        "# ridge GD, Gerbelot et al. 2022\n"
        "w = (1 - lr * lam) * w - lr * Xtg\n"
        "grad_w = Xtg + lam * w\n"
        "g = h - y\n"
        "y = hstar + sigma * eps\n"
    )
    checks = verify(dmftc.load(RIDGE), published)
    assert [c.status for c in checks[:4]] == [PASS] * 4


@pytest.mark.parametrize(
    "form",
    [
        "g = -sel*y*sigmoid(-y*h)",  # the language's own sigmoid
        "g = -sel*y*exp(-y*h)/(1 + exp(-y*h))",
        "g = -sel*y/(1 + exp(y*h))",
        "g = sel*y*(sigmoid(y*h) - 1)",
    ],
)
def test_equivalent_published_forms_in_other_functions_pass(tmp_path, form):
    published = tmp_path / "logistic.txt"
    published.write_text(form + "\n")
    checks = verify(dmftc.load(ROOT / "models" / "logistic_gd.dmft"), published)
    assert checks[0].status == PASS, checks[0]


def test_equivalence_is_decided_numerically_where_simplification_stops():
    x = sp.Symbol("x", positive=True)
    assert equivalent(sp.atan(x) + sp.atan(1 / x), sp.pi / 2) is not None
    assert equivalent(sp.atan(x) + sp.atan(1 / x), sp.pi / 2 + 1e-6) is None
    assert equivalent(sp.log(x), sp.log(x + 1e-7)) is None


def test_published_form_in_other_functions_that_differs_fails(tmp_path):
    published = tmp_path / "logistic.txt"
    published.write_text("g = -sel*y*sigmoid(y*h)\n")  # sigmoid of the wrong sign
    result = runner.invoke(app, ["verify", "logistic_gd", "--against", str(published)])
    assert result.exit_code == 1 and "fail" in result.output


def test_wrong_published_form_fails_with_the_difference(tmp_path):
    published = tmp_path / "wrong.txt"
    published.write_text("w = (1 + lr * lam) * w - lr * Xtg\n")  # sign error in the ridge term
    result = runner.invoke(app, ["verify", str(RIDGE), "--against", str(published)])
    assert result.exit_code == 1
    assert "fail" in result.output
    assert "-2*lam*lr*w" in result.output.replace(" ", "").replace("\n", "")


def test_unknown_name_in_published_form_is_a_diagnostic(tmp_path):
    published = tmp_path / "typo.txt"
    published.write_text("w = w - lr * (Xtg + lamda * w)\n")
    result = runner.invoke(app, ["verify", str(RIDGE), "--against", str(published)])
    assert result.exit_code == 2
    assert f"{published}:1:21: error: unknown name 'lamda'" in result.output
    assert "did you mean 'lam'" in result.output


def test_resolvent_check_can_fail():
    # the resolvent check compares the solver with an independent integral: feed it a wrong
    # response and it must fail
    m = dmftc.load(RIDGE)
    solve = m.solve

    def wrong_solve(**options):
        ds = solve(**options)
        ds["R_theta"] = ds.R_theta * 1.001
        return ds

    m.solve = wrong_solve
    assert data_checks.resolvent(m).status == FAIL


def test_fluctuation_dissipation_fails_from_another_temperature():
    # From the equilibrium at T the defects are ~1e-5 (the 1e-4 threshold's margin, Heun at
    # dt = 0.01); started in the equilibrium of 2T the process relaxes, which the check must see.
    m = dmftc.load(ROOT / "models" / "pspin3_langevin.dmft", temp=1.0)
    assert fluctuation_dissipation(m).status == "pass"
    wrong = fluctuation_dissipation(m, start=2.0)
    assert wrong.status == "fail", wrong.detail
