"""Headless plots (PNG) of results: observables against time, and two-time heat maps."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from . import results  # noqa: E402
from .errors import DmftcError  # noqa: E402

MAX_COLUMNS = 3
MAX_MARKERS = 25  # markers drawn per curve with standard errors


def default_label(ds: xr.Dataset) -> str:
    """A legend label from the attributes: kind, model, and the size of the run when known."""
    parts = [str(ds.attrs.get("kind", "result")), str(ds.attrs.get("model", ""))]
    if "dim" in ds.attrs:
        parts.append(f"d={ds.attrs['dim']}")
    if "samples" in ds.attrs:
        parts.append(f"M={ds.attrs['samples']}")
    return " ".join(part for part in parts if part)


def plot_observables(
    datasets: list[xr.Dataset],
    path: str | Path,
    variables: list[str] | None = None,
    labels: list[str] | None = None,
) -> None:
    """Draw observables against ``time``, one panel each, with every dataset overlaid.

    A dataset with ``<name>_sem`` is drawn with markers and a shaded band of ±2 standard errors.
    ``variables`` defaults to every observable of any dataset; ``labels`` to :func:`default_label`.
    A positive observable spanning more than two decades gets a logarithmic axis.
    """
    available = list(dict.fromkeys(name for ds in datasets for name in results.observable_names(ds)))
    variables = variables or available
    if not variables:
        raise DmftcError("no observables to draw", kind="usage")
    unknown = [name for name in variables if name not in available]
    if unknown:
        raise DmftcError(f"unknown observable(s) {', '.join(map(repr, unknown))}", kind="usage",
                         hint=f"available: {', '.join(available) or 'none'}")
    labels = labels or [default_label(ds) for ds in datasets]
    if len(labels) != len(datasets):
        raise ValueError(f"{len(labels)} labels for {len(datasets)} datasets")

    columns = min(len(variables), MAX_COLUMNS)
    rows = math.ceil(len(variables) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.4 * rows), sharex=True,
                             squeeze=False)
    try:
        for index, (ax, name) in enumerate(zip(axes.flat, variables)):
            for number, (ds, label) in enumerate(zip(datasets, labels)):
                if name in ds:
                    _draw_curve(ax, ds, name, label, f"C{number}")
            if _spans_decades(datasets, name):
                ax.set_yscale("log")
            ax.set_title(name)
            ax.grid(True, alpha=0.3)
            if index + columns >= len(variables):  # the lowest panel of its column
                ax.tick_params(labelbottom=True)
                ax.set_xlabel("time")
        for ax in axes.flat[len(variables):]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize="small")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)


def _draw_curve(ax, ds: xr.Dataset, name: str, label: str, color: str) -> None:
    time = ds["time"].values
    values = ds[name].values
    sem_name = f"{name}_sem"
    if sem_name not in ds:
        ax.plot(time, values, color=color, label=label)
        return
    band = 2 * ds[sem_name].values
    ax.plot(time, values, color=color, marker="o", markersize=3,
            markevery=max(1, len(time) // MAX_MARKERS), label=f"{label} (±2 s.e.)")
    ax.fill_between(time, values - band, values + band, color=color, alpha=0.25, linewidth=0)


def _spans_decades(datasets: list[xr.Dataset], name: str) -> bool:
    values = np.concatenate([ds[name].values for ds in datasets if name in ds])
    values = values[np.isfinite(values)]
    return values.size > 0 and values.min() > 0 and values.max() / values.min() > 100


def plot_two_time(ds: xr.Dataset, name: str, path: str | Path) -> None:
    """Draw a two-time function as a heat map over (``time``, ``time2``)."""
    available = results.two_time_names(ds)
    if name not in available:
        raise DmftcError(f"unknown two-time function '{name}'", kind="usage",
                         hint=f"available: {', '.join(available) or 'none'}")
    fig, ax = plt.subplots(figsize=(5.5, 4.6))
    try:
        mesh = ax.pcolormesh(ds["time2"].values, ds["time"].values, ds[name].values,
                             shading="nearest")
        fig.colorbar(mesh, ax=ax, label=name)
        ax.set_xlabel("time2 (s)")
        ax.set_ylabel("time (t)")
        ax.set_title(f"{name}(t, s) — {default_label(ds)}")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)


def _save(fig, path: str | Path) -> None:
    try:
        fig.savefig(path, dpi=120)
    except OSError as e:
        raise DmftcError(f"cannot write: {e.strerror or e}", kind="io", filename=str(path)) from None


def plot_files(
    files: list[Path],
    output: Path,
    two_time: str | None = None,
    variables: list[str] | None = None,
) -> None:
    """Read result files and draw their observables overlaid, or one file's two-time function."""
    if two_time is not None:
        if len(files) != 1:
            raise DmftcError(f"--two-time draws one file, got {len(files)}", kind="usage")
        if variables:
            raise DmftcError("--var and --two-time cannot be used together", kind="usage")
        plot_two_time(results.read(files[0]), two_time, output)
        return
    datasets = [results.read(path) for path in files]
    labels = [default_label(ds) for ds in datasets]
    if len(set(labels)) < len(labels):
        labels = [f"{label} [{Path(path).name}]" for label, path in zip(labels, files)]
    plot_observables(datasets, output, variables=variables, labels=labels)
