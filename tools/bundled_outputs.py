"""Record, or compare against a recording, what dmftc produces for every bundled model.

    python tools/bundled_outputs.py record DIR     # before a change
    python tools/bundled_outputs.py compare DIR    # after it: bit-identical, or within --rtol

For every model in ``models/`` and ``examples/*.dmft`` it solves (a short run with a fixed seed),
simulates (small dimension, fixed seed), derives (text, LaTeX, Markdown) and renders the
generated code; results go to ``DIR/<model>.{solve,simulate}.nc`` and the texts to
``DIR/<model>.<what>.txt``. ``compare`` reports every numeric difference (largest relative
difference per variable) and every changed text as a unified diff summary. A refactoring that
must not change results is checked with it (used for the restructuring of issue 11).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import numpy as np
import xarray as xr

import dmftc

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "models").glob("*.dmft")) + sorted((ROOT / "examples").glob("*.dmft"))
# Short runs: enough steps for memory terms and the two-time functions to matter.
SOLVE = {"steps": 12, "samples": 2000, "seed": 3}
SIMULATE = {"dim": 120, "runs": 2, "steps": 12, "seed": 5}
# attributes that legitimately differ between two runs of the same code
VOLATILE = ("created", "time_", "versions", "dmftc_version", "model_path", "content_hash")


def _code(source: str) -> list[str]:
    """A model file without its comments."""
    return [line.split("#")[0].rstrip() for line in source.splitlines() if line.split("#")[0].strip()]


def _runs(path: Path):
    m = dmftc.load(path)
    yield "solve", lambda: _solve(m)
    yield "simulate", lambda: _simulate(m)
    for fmt in ("text", "latex", "markdown"):
        yield f"derive-{fmt}", lambda fmt=fmt: m.derive().render(fmt)
    yield "codegen", lambda: m.codegen().text


def _solve(m):
    return m.solve(**{k: v for k, v in SOLVE.items() if k in m.model_class.solve_options})


def _simulate(m):
    return m.simulate(**{k: v for k, v in SIMULATE.items() if k in m.model_class.simulate_options})


def record(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in MODELS:
        for what, run in _runs(path):
            target = out / f"{path.stem}.{what}"
            try:
                result = run()
            except dmftc.DmftcError as e:
                (target.with_suffix(target.suffix + ".error")).write_text(str(e))
                continue
            if isinstance(result, str):
                target.with_suffix(target.suffix + ".txt").write_text(result)
            else:
                result.to_netcdf(target.with_suffix(target.suffix + ".nc"), engine="h5netcdf")
        print(path.stem, flush=True)


def _compare_datasets(old: xr.Dataset, new: xr.Dataset) -> list[str]:
    problems = []
    if set(old.data_vars) != set(new.data_vars):
        problems.append(f"variables differ: {sorted(set(old.data_vars) ^ set(new.data_vars))}")
    for name in sorted(set(old.data_vars) & set(new.data_vars)):
        a, b = old[name].values, new[name].values
        if a.shape != b.shape:
            problems.append(f"{name}: shape {a.shape} -> {b.shape}")
            continue
        if a.dtype.kind in "fc":
            if not np.array_equal(a, b, equal_nan=True):
                # relative to the variable's largest value (entries near zero do not dominate)
                scale = np.nanmax(np.abs(a)) or 1.0
                problems.append(f"{name}: max difference {np.nanmax(np.abs(a - b)) / scale:.3g} of its scale")
        elif not np.array_equal(a, b):
            problems.append(f"{name}: values differ")
    for key in sorted(set(old.attrs) | set(new.attrs)):
        if key.startswith(VOLATILE):
            continue
        if key == "model_source" and _code(old.attrs[key]) == _code(new.attrs.get(key, "")):
            continue  # only the model file's comments changed
        if old.attrs.get(key) != new.attrs.get(key):
            problems.append(f"attribute {key}: {str(old.attrs.get(key))[:60]!r} -> {str(new.attrs.get(key))[:60]!r}")
    return problems


def compare(recorded: Path, only: str | None) -> int:
    failures = 0
    for path in MODELS:
        if only and only not in path.stem:
            continue
        if not list(recorded.glob(f"{path.stem}.*")):
            print(f"new {path.stem}: not in the recording", flush=True)
            continue
        for what, run in _runs(path):
            stem = recorded / f"{path.stem}.{what}"
            try:
                result = run()
            except dmftc.DmftcError as e:
                result = e
            label = f"{path.stem} {what}"
            old_error = stem.with_suffix(stem.suffix + ".error")
            if isinstance(result, Exception) or old_error.exists():
                before = old_error.read_text() if old_error.exists() else "(no error)"
                after = str(result) if isinstance(result, Exception) else "(no error)"
                if before != after:
                    failures += 1
                    print(f"DIFF {label}: error {before!r} -> {after!r}")
                continue
            if isinstance(result, str):
                before = stem.with_suffix(stem.suffix + ".txt").read_text()
                if before != result:
                    failures += 1
                    diff = [
                        line
                        for line in difflib.unified_diff(before.splitlines(), result.splitlines(), lineterm="", n=0)
                        if line[:1] in "+-" and line[:3] not in ("+++", "---")
                    ]
                    print(f"TEXT {label}: {len(diff)} changed lines, e.g. {diff[:2]}")
                continue
            problems = _compare_datasets(xr.load_dataset(stem.with_suffix(stem.suffix + ".nc")), result)
            if problems:
                failures += 1
                print(f"DIFF {label}: " + "; ".join(problems))
        print(f"checked {path.stem}", flush=True)
    print(f"{failures} differences")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--only", help="compare only models whose name contains this")
    args = parser.parse_args()
    if args.action == "record":
        record(args.directory)
        return 0
    return compare(args.directory, args.only)


if __name__ == "__main__":
    sys.exit(main())
