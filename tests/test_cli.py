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
    proc = subprocess.run(
        [sys.executable, "-m", "dmftc.cli", "check", str(bad)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "dmftc.cli", "check", RIDGE], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr


def test_models_lists_the_bundled_models_with_their_descriptions():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    first_line = (ROOT / "models" / "ridge_gd.dmft").read_text().splitlines()[0].removeprefix("#").strip()
    assert "ridge_gd" in result.output and first_line[:40] in result.output
    assert "pspin3_gd" in result.output and "goe_relaxation" in result.output


def test_a_bare_name_is_a_bundled_model_and_a_path_wins(tmp_path, monkeypatch):
    result = runner.invoke(app, ["check", "ridge_gd"])
    assert result.exit_code == 0, result.output
    assert "models/ridge_gd.dmft" in result.output.replace("\\", "/")
    # a file of that name in the working directory is used instead
    local = tmp_path / "ridge_gd"
    local.write_text((ROOT / "models" / "logistic_gd.dmft").read_text())
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check", "ridge_gd"])
    assert result.exit_code == 0, result.output
    assert "logistic_gd" in result.output
    missing = runner.invoke(app, ["check", "no_such_model"])
    assert missing.exit_code == 2 and "no_such_model" in missing.output


def test_every_option_exists_in_the_cli_and_the_api():
    import inspect

    import dmftc
    from dmftc.options import SIMULATE, SOLVE, for_command

    for command, method in ((SOLVE, dmftc.DMFTModel.solve), (SIMULATE, dmftc.DMFTModel.simulate)):
        keywords = set(inspect.signature(method).parameters)
        help_text = runner.invoke(app, [command, "--help"], terminal_width=200).output
        for option in for_command(command):
            assert option.name in keywords
            assert option.flag in help_text, option.flag
