"""Generated code: deterministic, self-contained, cached safely."""

import subprocess
import sys

import dmftc
from dmftc.codegen.jit import write_source

from .conftest import MODELS, ROOT


def test_rendering_is_deterministic():
    for path in MODELS:
        m = dmftc.load(path)
        if m.model.cls != "gaussian_data":
            continue
        assert m.codegen().text == dmftc.load(path).codegen().text


def test_generated_module_is_self_contained():
    text = dmftc.load(ROOT / "models" / "adam_logistic.dmft").codegen().text
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import functools", "import math", "import numpy as np", "from numba import njit, prange"]


def test_parameters_are_runtime_arguments():
    a = dmftc.load(ROOT / "models" / "logistic_gd.dmft", lr=0.1).codegen()
    b = dmftc.load(ROOT / "models" / "logistic_gd.dmft", lr=0.7).codegen()
    assert a.text == b.text


def test_concurrent_writers_agree(tmp_path, monkeypatch):
    # two processes writing the same generated module: the lock and the atomic rename leave
    # one complete file
    monkeypatch.setenv("DMFTC_CACHE_DIR", str(tmp_path))
    script = (
        "import dmftc, sys; from dmftc.codegen.jit import write_source; "
        f"print(write_source(dmftc.load({str(ROOT / 'models' / 'ridge_gd.dmft')!r}).codegen()))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(3)
    ]
    paths = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs) and len(paths) == 1
    source = dmftc.load(ROOT / "models" / "ridge_gd.dmft").codegen()
    assert write_source(source).read_text() == source.text
