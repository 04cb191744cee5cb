"""The command line, through Typer's runner and once as a real process."""

import subprocess
import sys

from typer.testing import CliRunner

from dmftc import __version__
from dmftc.cli import app

from .conftest import ROOT

runner = CliRunner()
RIDGE = str(ROOT / "models" / "ridge_gd.dmft")


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_check_prints_summary():
    result = runner.invoke(app, ["check", RIDGE, "-p", "lr=0.3"])
    assert result.exit_code == 0, result.output
    for expected in ("ridge_gd", "gaussian_data", "wstar", "normal(0, 1)", "lr", "0.3", "test_loss"):
        assert expected in result.output


def test_unknown_parameter_is_exit_2_with_hint():
    result = runner.invoke(app, ["check", RIDGE, "-p", "lamda=1"])
    assert result.exit_code == 2
    assert "unknown parameter 'lamda'" in result.output
    assert "did you mean 'lam'" in result.output


def test_non_numeric_parameter():
    result = runner.invoke(app, ["check", RIDGE, "-p", "lr=fast"])
    assert result.exit_code == 2
    assert "needs a number" in result.output


def test_malformed_override():
    result = runner.invoke(app, ["check", RIDGE, "-p", "lr"])
    assert result.exit_code == 2
    assert "NAME=VALUE" in result.output


def test_bad_model_is_a_diagnostic_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.dmft"
    bad.write_text("model bad\nparam lr = 0.1\nparam b = lrr * 2\n")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3:11: error: unknown name 'lrr'" in result.output
    assert "Traceback" not in result.output


def test_missing_file():
    result = runner.invoke(app, ["check", "no/such/model.dmft"])
    assert result.exit_code == 2
    assert "cannot read model file" in result.output


def test_every_command_is_registered():
    result = runner.invoke(app, ["--help"])
    for command in ("check", "derive", "codegen", "solve", "simulate", "compare", "plot"):
        assert command in result.output


def test_real_process_exit_codes(tmp_path):
    bad = tmp_path / "bad.dmft"
    bad.write_text("model bad\nweights w ~ 0\nupdate:\n    w = w - grad(v)\n")
    proc = subprocess.run([sys.executable, "-m", "dmftc.cli", "check", str(bad)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "dmftc.cli", "check", RIDGE], capture_output=True,
                        text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
