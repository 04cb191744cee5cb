"""Headless plots (PNG) of results: observables against time, and two-time heat maps."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from dmftc.errors import DmftcError  # noqa: E402
from dmftc.results import dataset as results  # noqa: E402
from dmftc.results.sweep import swept_dims  # noqa: E402

MAX_COLUMNS = 3
MAX_MARKERS = 25  # markers drawn per curve with standard errors
MAX_LEGEND = 10  # a sweep with more values than this gets a colour bar instead of a legend


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
        raise DmftcError(
            f"unknown observable(s) {', '.join(map(repr, unknown))}",
            kind="usage",
            hint=f"available: {', '.join(available) or 'none'}",
        )
    labels = labels or [default_label(ds) for ds in datasets]
    if len(labels) != len(datasets):
        raise ValueError(f"{len(labels)} labels for {len(datasets)} datasets")

    columns = min(len(variables), MAX_COLUMNS)
    rows = math.ceil(len(variables) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.4 * rows), sharex=True, squeeze=False)
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
        for ax in axes.flat[len(variables) :]:
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
    ax.plot(
        time,
        values,
        color=color,
        marker="o",
        markersize=3,
        markevery=max(1, len(time) // MAX_MARKERS),
        label=f"{label} (±2 s.e.)",
    )
    ax.fill_between(time, values - band, values + band, color=color, alpha=0.25, linewidth=0)


def _spans_decades(datasets: list[xr.Dataset], name: str) -> bool:
    values = np.concatenate([ds[name].values for ds in datasets if name in ds])
    values = values[np.isfinite(values)]
    return values.size > 0 and values.min() > 0 and values.max() / values.min() > 100


def plot_two_time(ds: xr.Dataset, name: str, path: str | Path) -> None:
    """Draw a two-time function as a heat map over (``time``, ``time2``)."""
    available = results.two_time_names(ds)
    if name not in available:
        raise DmftcError(
            f"unknown two-time function '{name}'", kind="usage", hint=f"available: {', '.join(available) or 'none'}"
        )
    fig, ax = plt.subplots(figsize=(5.5, 4.6))
    try:
        mesh = ax.pcolormesh(ds["time2"].values, ds["time"].values, ds[name].values, shading="nearest")
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
    at_step: int | None = None,
    select: dict[str, str] | None = None,
) -> None:
    """Read result files and draw their observables overlaid, or one file's two-time function.

    A sweep is drawn alone by :func:`plot_sweep`, after ``select`` (swept parameter -> value)
    fixed some of its parameters; with all of them fixed, it is one result like any other.
    """
    datasets = [results.read(path) for path in files]
    if any("sweep_dims" in ds.attrs for ds in datasets):
        if len(datasets) != 1:
            raise DmftcError(f"a sweep is drawn alone, got {len(datasets)} files", kind="usage")
        datasets = [select_points(datasets[0], select or {})]
        if swept_dims(datasets[0]):
            if two_time is not None:
                raise DmftcError(
                    "--two-time draws one point of a sweep: fix every swept parameter with --select NAME=VALUE",
                    kind="usage",
                )
            plot_sweep(datasets[0], output, variables=variables, at_step=at_step)
            return
    elif select:
        raise DmftcError("--select is for sweeps", kind="usage")
    if at_step is not None:
        raise DmftcError("--at-step is for heat maps of a sweep over two parameters", kind="usage")
    if two_time is not None:
        if len(files) != 1:
            raise DmftcError(f"--two-time draws one file, got {len(files)}", kind="usage")
        if variables:
            raise DmftcError("--var and --two-time cannot be used together", kind="usage")
        plot_two_time(datasets[0], two_time, output)
        return
    labels = [default_label(ds) for ds in datasets]
    if len(set(labels)) < len(labels):
        labels = [f"{label} [{Path(path).name}]" for label, path in zip(labels, files)]
    plot_observables(datasets, output, variables=variables, labels=labels)


# ------------------------------------------------------------------------------------ sweeps


def select_points(ds: xr.Dataset, select: dict[str, str | float]) -> xr.Dataset:
    """Fix swept parameters of a sweep (name -> value, the nearest grid value is taken)."""
    dims = swept_dims(ds)
    for name, value in select.items():
        if name not in dims:
            raise DmftcError(
                f"'{name}' is not a swept parameter", kind="usage", hint=f"swept: {', '.join(dims) or 'none left'}"
            )
        try:
            ds = ds.sel({name: float(value)}, method="nearest")
        except ValueError:
            raise DmftcError(f"--select {name} needs a number, got '{value}'", kind="usage") from None
    return ds


def plot_sweep(
    ds: xr.Dataset, path: str | Path, variables: list[str] | None = None, at_step: int | None = None
) -> None:
    """Draw a sweep, one panel per observable (default: all).

    One swept parameter: the observable against time, one curve per value. Two: a heat map of
    the observable at step ``at_step`` (default: the last) over the two parameters, a phase
    diagram, with failed points crossed. More: fix some with :func:`select_points` first.
    """
    dims = swept_dims(ds)
    available = [
        str(name)
        for name, var in ds.data_vars.items()
        if var.dims == (*dims, "step") and not str(name).endswith(("_sem", "_teacher"))
    ]
    variables = variables or available
    unknown = [name for name in variables if name not in available]
    if unknown or not variables:
        what = f"unknown observable(s) {', '.join(map(repr, unknown))}" if unknown else "no observables to draw"
        raise DmftcError(what, kind="usage", hint=f"available: {', '.join(available) or 'none'}")
    if len(dims) > 2:
        raise DmftcError(
            f"a sweep over {len(dims)} parameters ({', '.join(dims)}): fix all but one or two with --select NAME=VALUE",
            kind="usage",
        )
    if len(dims) == 1 and at_step is not None:
        raise DmftcError("--at-step is for heat maps of a sweep over two parameters", kind="usage")
    step = int(ds["step"].values[-1]) if at_step is None else at_step
    if step not in ds["step"].values:
        raise DmftcError(f"no step {step}: the steps go from 0 to {int(ds['step'].values[-1])}", kind="usage")

    columns = min(len(variables), MAX_COLUMNS)
    rows = math.ceil(len(variables) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.6 * rows), squeeze=False)
    try:
        for ax, name in zip(axes.flat, variables):
            if len(dims) == 1:
                _draw_sweep_curves(ax, ds, dims[0], name)
            else:
                _draw_phase_diagram(fig, ax, ds.sortby(dims), dims, name, step)
        for ax in axes.flat[len(variables) :]:
            ax.set_visible(False)
        if len(dims) == 1:
            _sweep_key(fig, axes, ds, dims[0])
        fig.suptitle(f"{default_label(ds)}: sweep over {' and '.join(dims)}")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)


def _log_scale(values: np.ndarray) -> bool:
    """Parameter values get a logarithmic scale when positive and spanning two decades or more."""
    return bool(values.min() > 0 and values.max() / values.min() >= 100)


def _sweep_norm(values: np.ndarray):
    """Curve colours by parameter value."""
    norm = matplotlib.colors.LogNorm if _log_scale(values) else matplotlib.colors.Normalize
    return norm(values.min(), values.max())


def _draw_sweep_curves(ax, ds: xr.Dataset, dim: str, name: str) -> None:
    values = ds[dim].values
    norm = _sweep_norm(values)
    for index, (value, status) in enumerate(zip(values, ds["status"].values)):
        label = f"{dim}={value:g}" + ("" if status == "ok" else " (failed)")
        ax.plot(ds["time"].values, ds[name].isel({dim: index}).values, color=plt.cm.viridis(norm(value)), label=label)
    if _spans_decades([ds], name):
        ax.set_yscale("log")
    ax.set_title(name)
    ax.set_xlabel("time")
    ax.grid(True, alpha=0.3)


def _sweep_key(fig, axes, ds: xr.Dataset, dim: str) -> None:
    """A legend of the values when there are few, else a colour bar."""
    values = ds[dim].values
    if len(values) <= MAX_LEGEND:
        axes.flat[0].legend(fontsize="small")
    else:
        mappable = matplotlib.cm.ScalarMappable(norm=_sweep_norm(values), cmap="viridis")
        fig.colorbar(mappable, ax=axes.ravel().tolist(), label=dim)


def _draw_phase_diagram(fig, ax, ds: xr.Dataset, dims: list[str], name: str, step: int) -> None:
    x, y = ds[dims[0]].values, ds[dims[1]].values
    values = ds[name].sel(step=step).transpose(dims[1], dims[0]).values
    log_x, log_y = _log_scale(x), _log_scale(y)
    mesh = ax.pcolormesh(_cell_edges(x, log_x), _cell_edges(y, log_y), values, shading="flat")
    fig.colorbar(mesh, ax=ax)
    failed_x, failed_y = np.nonzero(ds["status"].transpose(*dims).values == "failed")
    if failed_x.size:
        ax.plot(x[failed_x], y[failed_y], "x", color="red", label="failed")
        ax.legend(fontsize="small")
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    ax.set_xlabel(dims[0])
    ax.set_ylabel(dims[1])
    ax.set_title(f"{name} at time {float(ds['time'].sel(step=step)):g}")


def _cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Cell boundaries around sorted grid values: midpoints (of the logarithms on a log axis)."""
    v = np.log(values) if log else values.astype(float)
    if v.size == 1:
        edges = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        middle = (v[1:] + v[:-1]) / 2
        edges = np.concatenate([[2 * v[0] - middle[0]], middle, [2 * v[-1] - middle[-1]]])
    return np.exp(edges) if log else edges
