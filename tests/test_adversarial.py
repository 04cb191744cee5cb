"""An adversarial corpus through the command line: every case ends in a result or in an error
with exit status 2, a message naming the file (and the line, where there is one), and never a
traceback. The bad files of tests/bad (parse and analysis errors, bytes, encodings) run through
``check`` and ``solve``; malformed matrix programs, bad option values and hostile output paths
complete the corpus."""

import re

import pytest
from typer.testing import CliRunner

from dmftc.cli import app

from .conftest import ROOT

runner = CliRunner()
BAD = sorted((ROOT / "tests" / "bad").glob("*.dmft"))
MODELS = ROOT / "models"
RIDGE = str(MODELS / "ridge_gd.dmft")
SCS = str(MODELS / "scs_network.dmft")


def refused(args: list[str]) -> str:
    """Run ``dmftc args``; assert the clean refusal (exit 2, no traceback); return the output."""
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "error" in result.output.lower()
    return result.output


@pytest.mark.parametrize("command", ["check", "solve"])
@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_every_bad_file_is_refused_by_the_command_line(path, command):
    output = refused([command, str(path)] + (["--steps", "2", "-q"] if command == "solve" else []))
    assert str(path) in output


PROGRAM = """model p
space d
param g = 1.5
{body}
"""

# a matrix, a state and the update block, to which a case adds lines
LOOP = "matrix J[d, d] ~ gaussian(var = 1)\nstate x[d] ~ normal(0, 1)\nupdate:\n    "

# (body of a matrix program, the line of the error, words the message contains)
BAD_PROGRAMS = [
    ("matrix J[d, d] ~ gaussian(var = g^2)\nstate x[e] ~ normal(0, 1)", 5, "unknown name 'e'"),
    ("matrix J[d, d] ~ wigner(var = 1)\nstate x[d] ~ normal(0, 1)", 4, "unknown matrix law"),
    (
        "space n = 2 * d\nmatrix J[d, n] ~ gaussian(var = 1)\nstate x[d] ~ normal(0, 1)\nupdate:\n    x = J . x",
        8,
        "needs x in space 'n'",
    ),
    (LOOP + "x = J . J . x", 7, "left of '.'"),
    ("matrix J[d, d] ~ gaussian(var = -1)\nstate x[d] ~ normal(0, 1)\nupdate:\n    x = J . x", 4, "positive"),
    ("matrix J[d, d] ~ gaussian(var = 1, corr = 2)\nstate x[d] ~ normal(0, 1)\nupdate:\n    x = J . x", 4, "corr"),
    ("matrix J[d, d] ~ symmetric(var = 1, corr = 0)\nstate x[d] ~ normal(0, 1)\nupdate:\n    x = J . x", 4, "corr"),
    ("matrix J[d, d] ~ gaussian(var = 1)\nmatrix J[d, d] ~ gaussian(var = 1)\nstate x[d] ~ normal(0, 1)", 5, "already"),
    ("const b[d] ~ normal(0, 1)\nstate x[d] ~ normal(0, 1)\nupdate:\n    b = x", 7, "per-site constant"),
    ("state x[d] ~ normal(0, 1)\nupdate:\n    x = x'", 6, "transpose"),
    (LOOP + "x = J' . J . x", 7, "left of '.'"),
    ("matrix J[q, d] ~ gaussian(var = 1)\nstate x[d] ~ normal(0, 1)", 4, "unknown name 'q'"),
    ("space d\nstate x[d] ~ normal(0, 1)", 4, "already"),
    (LOOP + "x = J . x\nobserve v = mean(J)", 8, "J"),
    (LOOP + "x = tanh(J) . x", 7, "left of '.'"),
    (LOOP + "x = J . x\nobserve v = x", 8, "mean()"),
    ("matrix J[d] ~ gaussian()\nstate x[d] ~ normal(0, 1)\nupdate:\n    x = J . x", 4, "unexpected ']'"),
    (LOOP + "x = J . x . x", 7, "left of '.'"),
    (LOOP + "x = J . (x . x)", 7, "left of '.'"),
    ("const b[d] ~ bogus(1)\nstate x[d] ~ normal(0, 1)\nupdate:\n    x = b * x", 4, "unknown function 'bogus'"),
]


@pytest.mark.parametrize("body, line, words", BAD_PROGRAMS)
def test_a_malformed_matrix_program_is_a_located_error(body, line, words, tmp_path):
    path = tmp_path / "p.dmft"
    path.write_text(PROGRAM.format(body=body))
    for command in (["check", str(path)], ["solve", str(path), "--steps", "2", "-q"]):
        output = refused(command)
        located = re.search(rf"{re.escape(str(path))}:(\d+):\d+: error: (.*)", output)
        assert located, output
        assert int(located.group(1)) == line, output
        assert words in located.group(2), output


# command lines on good models whose options, parameters or paths are wrong
BAD_COMMAND_LINES = [
    ["solve", RIDGE, "--steps", "0"],
    ["solve", RIDGE, "--steps", "-3"],
    ["solve", RIDGE, "--steps", "many"],
    ["solve", RIDGE, "--steps", "1e7"],
    ["solve", RIDGE, "--dt", "0"],
    ["solve", RIDGE, "--dt", "nan"],
    ["solve", RIDGE, "--dt", "-1"],
    ["solve", RIDGE, "--tmax", "-1"],
    ["solve", RIDGE, "-M", "1"],
    ["solve", RIDGE, "-M", "8", "--replicas", "8"],
    ["solve", RIDGE, "--replicas", "0"],
    ["solve", RIDGE, "--seed", "-1"],
    ["solve", RIDGE, "--mode", "bogus"],
    ["solve", RIDGE, "--responses", "magic"],
    ["solve", RIDGE, "-p", "lr="],
    ["solve", RIDGE, "-p", "=1"],
    ["solve", RIDGE, "-p", "lr"],
    ["solve", RIDGE, "-p", "lr=inf"],
    ["solve", RIDGE, "-p", "lr=nan"],
    ["solve", RIDGE, "-p", "lr=0_1"],
    ["solve", RIDGE, "-p", "lr=1e999"],
    ["solve", RIDGE, "-p", "lr=__import__('os')"],
    ["solve", RIDGE, "-p", "nope=1"],
    ["solve", RIDGE, "-p", "lr=1", "--steps", "400"],  # diverges: a located instability
    ["solve", RIDGE, "-o", RIDGE],  # the model file itself
    ["solve", RIDGE, "-o", "/nonexistent/dir/x.nc"],
    ["solve", RIDGE, "--plot", RIDGE],
    ["solve", RIDGE, "--dim", "100"],  # an option of another command
    ["solve", str(MODELS / "no_such_model.dmft")],
    ["solve", "no_such_bundled_model"],
    ["solve", str(MODELS)],  # a directory
    ["simulate", RIDGE, "--dim", "1"],
    ["simulate", RIDGE, "--runs", "0"],
    ["simulate", RIDGE, "--dim", "1e7"],
    ["simulate", RIDGE, "-M", "100"],
    ["simulate", SCS, "--dim", "0"],
    ["solve", SCS, "--dt", "0.1"],  # a discrete program has no time step
    ["solve", SCS, "-p", "h=50", "--steps", "400"],  # an unstable Euler step
    ["sweep", RIDGE, "-p", "lr=0.1:0.2"],
    ["sweep", RIDGE, "-p", "lr=0.1:0.2:0"],
    ["sweep", RIDGE, "-p", "lr=a,b"],
    ["sweep", RIDGE, "-p", "lr=0.1,,0.2"],
    ["sweep", RIDGE, "-p", "lr=0.1:0.2:100000000000"],
    ["derive", RIDGE, "--format", "pdf"],
    ["codegen", RIDGE, "-o", "/proc/dmftc.py"],
    ["compare", RIDGE, RIDGE],  # not results
    ["compare", "/nonexistent/a.nc", "/nonexistent/b.nc"],
    ["plot", RIDGE, "-o", "/tmp/never.png"],
    ["plot", "/nonexistent/a.nc", "-o", "/tmp/never.png"],
    ["verify", RIDGE, "--against", "/nonexistent/forms.txt"],
    ["check", RIDGE, "-p", "lr=1", "-p", "lr=2", "-p", "lam=x"],
]


@pytest.mark.parametrize("args", BAD_COMMAND_LINES, ids=lambda a: " ".join(a).replace(str(ROOT) + "/", ""))
def test_a_bad_command_line_is_refused_cleanly(args):
    refused(args)


def test_a_truncated_result_is_refused_by_compare_and_plot(tmp_path):
    good = tmp_path / "r.nc"
    assert runner.invoke(app, ["solve", RIDGE, "--steps", "5", "-q", "-o", str(good)]).exit_code == 0
    cut = tmp_path / "cut.nc"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    refused(["compare", str(good), str(cut)])
    refused(["plot", str(cut), "-o", str(tmp_path / "cut.png")])
