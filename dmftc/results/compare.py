"""``dmftc compare``: two results side by side, a verdict per observable (the statistics are in
:mod:`dmftc.results.agreement`), and an overlay plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.table import Table

from dmftc.errors import DmftcError
from dmftc.results import dataset as results
from dmftc.results.agreement import Row, compare_datasets, verdict
from dmftc.results.plot import default_label, plot_observables

SHOWN_TIMES = 8  # the table shows about this many times per observable (and the worst one)


def compare_files(path_a: Path, path_b: Path, console: Console, plot_path: Path | None = None) -> None:
    """Print the comparison of two result files, a verdict per observable, and draw an overlay."""
    a, b = results.read(path_a), results.read(path_b)
    for path, ds in ((path_a, a), (path_b, b)):
        if "sweep_dims" in ds.attrs:
            raise DmftcError(
                "compare takes single results, this is a sweep",
                kind="compare",
                filename=str(path),
                hint="draw a sweep with 'dmftc plot' (--select NAME=VALUE picks a point)",
            )
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
