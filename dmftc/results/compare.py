"""Theory against experiment: two results side by side, with deviations in standard errors."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.table import Table

from dmftc.errors import DmftcError
from dmftc.results import dataset as results
from dmftc.results.plot import default_label, plot_observables

COMPARED_TIMES = 8  # about this many times per observable, evenly spaced, the last included
TIME_RTOL = 1e-9  # times match when they differ by less than this, relative to the largest time
Z_LIMIT = 3.0  # deviations within this many standard errors are consistent


@dataclass(frozen=True)
class Row:
    """One observable at one time in both results.

    ``z`` is ``(value_a - value_b) / sqrt(sem_a^2 + sem_b^2)``; None when neither side has a
    standard error, or when the combined standard error is zero.
    """

    observable: str
    time: float
    value_a: float
    value_b: float
    difference: float
    z: float | None


def compare_datasets(a: xr.Dataset, b: xr.Dataset) -> list[Row]:
    """Compare the observables the two results share at about 8 common times, the last included."""
    names_a, names_b = results.observable_names(a), results.observable_names(b)
    observables = [name for name in names_a if name in names_b]
    if not observables:
        raise DmftcError(
            "the two results have no observable in common",
            kind="compare",
            hint=f"first: {', '.join(names_a) or 'none'}; second: {', '.join(names_b) or 'none'}",
        )
    steps_a, steps_b = _common_steps(a["time"].values, b["time"].values)
    if steps_a.size == 0:
        raise DmftcError(
            "the two results have no time in common",
            kind="compare",
            hint="solve and simulate with the same --dt and --steps",
        )
    chosen = np.unique(np.linspace(0, steps_a.size - 1, COMPARED_TIMES).round().astype(int))
    rows = []
    for name in observables:
        for i, j in zip(steps_a[chosen], steps_b[chosen]):
            value_a, value_b = float(a[name][i]), float(b[name][j])
            difference = value_a - value_b
            rows.append(
                Row(
                    name,
                    float(a["time"][i]),
                    value_a,
                    value_b,
                    difference,
                    _z(difference, _sem(a, name, i), _sem(b, name, j)),
                )
            )
    return rows


def _common_steps(time_a: np.ndarray, time_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``time_a`` and ``time_b`` (both increasing) of the times they share."""
    tolerance = TIME_RTOL * max(1.0, np.abs(time_a).max(), np.abs(time_b).max())
    after = np.searchsorted(time_b, time_a).clip(0, time_b.size - 1)
    before = (after - 1).clip(0)
    before_is_closer = np.abs(time_b[before] - time_a) <= np.abs(time_b[after] - time_a)
    nearest = np.where(before_is_closer, before, after)
    matched = np.abs(time_b[nearest] - time_a) <= tolerance
    return np.flatnonzero(matched), nearest[matched]


def _sem(ds: xr.Dataset, name: str, step: int) -> float | None:
    sem_name = f"{name}_sem"
    return float(ds[sem_name][step]) if sem_name in ds else None


def _z(difference: float, sem_a: float | None, sem_b: float | None) -> float | None:
    if sem_a is None and sem_b is None:
        return None
    combined = math.hypot(sem_a or 0.0, sem_b or 0.0)
    return None if combined == 0 else difference / combined


def compare_files(path_a: Path, path_b: Path, console: Console, plot_path: Path | None = None) -> None:
    """Print the comparison of two result files, a verdict per observable, and draw an overlay."""
    a, b = results.read(path_a), results.read(path_b)
    rows = compare_datasets(a, b)
    console.print(f"a: {path_a}  {results.describe(a)}", markup=False)
    console.print(f"b: {path_b}  {results.describe(b)}", markup=False)
    for note in _mismatch_notes(a, b):
        console.print(f"note: {note}", markup=False)

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("observable")
    table.add_column("time", justify="right")
    table.add_column(f"a: {a.attrs.get('kind', '?')}", justify="right")
    table.add_column(f"b: {b.attrs.get('kind', '?')}", justify="right")
    table.add_column("a - b", justify="right")
    table.add_column("z", justify="right")
    for row in rows:
        z = "" if row.z is None else f"{row.z:+.2f}"
        table.add_row(
            row.observable, f"{row.time:g}", f"{row.value_a:.6g}", f"{row.value_b:.6g}", f"{row.difference:+.3g}", z
        )
    console.print(table)

    for name in dict.fromkeys(row.observable for row in rows):
        console.print(_verdict(name, [row for row in rows if row.observable == name]), markup=False)
    if plot_path is not None:
        observables = list(dict.fromkeys(row.observable for row in rows))
        labels = [f"a: {default_label(a)}", f"b: {default_label(b)}"]
        plot_observables([a, b], plot_path, variables=observables, labels=labels)


def _verdict(name: str, rows: list[Row]) -> str:
    zs = [abs(row.z) for row in rows if row.z is not None]
    max_difference = max(abs(row.difference) for row in rows)
    if not zs:
        return f"{name}: max |a - b| = {max_difference:.3g} (no standard errors)"
    max_z = float(np.max(zs))  # NaN when a value is NaN
    within = max_z <= Z_LIMIT
    verdict = f"within {Z_LIMIT:g} s.e." if within else f"NOT within {Z_LIMIT:g} s.e."
    return f"{name}: max |z| = {max_z:.2f}, {verdict}"


def _mismatch_notes(a: xr.Dataset, b: xr.Dataset) -> list[str]:
    """Warnings for results that do not come from the same model and parameters."""
    notes = []
    if a.attrs.get("content_hash") != b.attrs.get("content_hash"):
        models = (ds.attrs.get("model", "?") for ds in (a, b))
        notes.append("different model files ({} vs {})".format(*models))
    params_a, params_b = (json.loads(ds.attrs.get("parameters", "{}")) for ds in (a, b))
    differing = [
        f"{name} = {params_a.get(name)} vs {params_b.get(name)}"
        for name in sorted(set(params_a) | set(params_b))
        if params_a.get(name) != params_b.get(name)
    ]
    if differing:
        notes.append(f"different parameters: {', '.join(differing)}")
    return notes
