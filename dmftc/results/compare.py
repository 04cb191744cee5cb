"""Theory against experiment: two results side by side, with deviations in standard errors.

Each observable is judged at every time the two results share: ``z = (a - b) / s``, with ``s``
the two sides' standard errors combined (``<name>_sem``: the runs of a simulation, the replicas
of a Monte-Carlo solve; an exact solve has none) and floored at the rounding level of the values
(1e-12 of their size), so that two equal results are equal. The verdict compares the largest
|z| over the n judged times with the 3-sigma level corrected for n comparisons (Bonferroni: the
two-sided tail probability of 3 sigma, 0.0027, shared among the n times), so that a correct
model passes with probability 99.7 % however many steps it has.
"""

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

SHOWN_TIMES = 8  # the table shows about this many times per observable (and the worst one)
TIME_RTOL = 1e-9  # times match when they differ by less than this, relative to the largest time
SIGMA = 3.0  # the level of the verdict, corrected for the number of times judged
ROUNDING = 1e-12  # standard errors are floored at this fraction of the values' size


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
    """Compare the observables the two results share at every time they share."""
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
    rows = []
    for name in observables:
        for i, j in zip(steps_a, steps_b):
            value_a, value_b = float(a[name][i]), float(b[name][j])
            difference = value_a - value_b
            rows.append(
                Row(
                    name,
                    float(a["time"][i]),
                    value_a,
                    value_b,
                    difference,
                    _z(difference, _sem(a, name, i), _sem(b, name, j), max(abs(value_a), abs(value_b))),
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


def _z(difference: float, sem_a: float | None, sem_b: float | None, size: float) -> float | None:
    """The deviation in combined standard errors; None when neither side has one."""
    if sem_a is None and sem_b is None:
        return None
    combined = math.hypot(sem_a or 0.0, sem_b or 0.0, ROUNDING * size)
    if combined == 0:  # both values exactly 0
        return 0.0 if difference == 0 else math.inf
    return difference / combined


def z_limit(judged: int) -> float:
    """The |z| that a deviation exceeds with probability 0.0027 / judged (two-sided normal tail):
    3 for one time, 3.9 for 40, 4.3 for 200."""
    from scipy.special import ndtri

    tail = math.erfc(SIGMA / math.sqrt(2)) / max(judged, 1)
    return float(-ndtri(tail / 2))


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
    for row in _shown(rows):
        z = "" if row.z is None else f"{row.z:+.2f}"
        table.add_row(
            row.observable, f"{row.time:g}", f"{row.value_a:.6g}", f"{row.value_b:.6g}", f"{row.difference:+.3g}", z
        )
    console.print(table)

    for name in dict.fromkeys(row.observable for row in rows):
        console.print(verdict(name, [row for row in rows if row.observable == name])[1], markup=False)
    if plot_path is not None:
        observables = list(dict.fromkeys(row.observable for row in rows))
        labels = [f"a: {default_label(a)}", f"b: {default_label(b)}"]
        plot_observables([a, b], plot_path, variables=observables, labels=labels)


def _shown(rows: list[Row]) -> list[Row]:
    """About SHOWN_TIMES evenly spaced rows per observable (the last included) and its worst one."""
    shown = []
    for name in dict.fromkeys(row.observable for row in rows):
        own = [row for row in rows if row.observable == name]
        keep = set(np.unique(np.linspace(0, len(own) - 1, SHOWN_TIMES).round().astype(int)).tolist())
        zs = [abs(row.z) if row.z is not None and not math.isnan(row.z) else -1.0 for row in own]
        keep.add(int(np.argmax(zs)))
        shown += [own[i] for i in sorted(keep)]
    return shown


def verdict(name: str, rows: list[Row]) -> tuple[bool | None, str]:
    """(consistent, the sentence) of one observable judged at all its rows; None: no errors."""
    max_difference = max(abs(row.difference) for row in rows)
    judged = [row for row in rows if row.z is not None]
    if not judged:
        return None, f"{name}: max |a - b| = {max_difference:.3g} (no standard errors)"
    worst = max(judged, key=lambda row: abs(row.z) if not math.isnan(row.z) else math.inf)
    limit = z_limit(len(judged))
    consistent = abs(worst.z) <= limit  # False for NaN
    beyond = sum(abs(row.z) > SIGMA for row in judged)
    sentence = (
        f"{name}: max |z| = {abs(worst.z):.2f} at time {worst.time:g}, over {len(judged)} common times "
        f"({beyond} beyond {SIGMA:g} s.e.); {'within' if consistent else 'NOT within'} the limit {limit:.2f} "
        f"({SIGMA:g} sigma for {len(judged)} comparisons)"
    )
    return consistent, sentence


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
