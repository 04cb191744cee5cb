"""The documentation's examples run: every ```python block of docs/ (from the repository root),
every complete ```dmft model, the gallery lists every bundled model, and the CLI reference
names every option of the options table."""

import re
import subprocess
import sys

import pytest

from dmftc.analysis.driver import analyse_text
from dmftc.cli import reference_markdown
from dmftc.options import OPTIONS

from .conftest import MODELS, ROOT

DOCS = sorted((ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks(language: str):
    for path in DOCS:
        for number, match in enumerate(m for m in BLOCK.finditer(path.read_text()) if m.group(1) == language):
            yield pytest.param(match.group(2), id=f"{path.relative_to(ROOT / 'docs')}#{number}")


@pytest.mark.parametrize("code", list(_blocks("python")))
def test_python_example_runs(code, tmp_path):
    # each block is a separate program, run where a user of the repository would run it
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("text", [p for p in _blocks("dmft") if p.values[0].startswith("model ")])
def test_model_example_is_valid(text):
    model = analyse_text(text, "docs-example.dmft")
    assert model.observables


def test_gallery_lists_every_bundled_model():
    gallery = (ROOT / "docs" / "models.md").read_text()
    missing = [p.stem for p in MODELS if f"`{p.stem}`" not in gallery]
    assert not missing, f"docs/models.md does not list {missing}"


def test_cli_reference_names_every_option():
    text = reference_markdown()
    for option in OPTIONS:
        assert option.flag in text, option.flag
    for command in ("check", "derive", "codegen", "solve", "simulate", "sweep", "verify", "compare", "plot", "models"):
        assert f"`dmftc {command}`" in text
