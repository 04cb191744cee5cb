"""Headless plots (PNG) of results, sized for a journal: observables against time, two-time heat
maps and sweeps.

Every figure is drawn at a journal's width (3.4 in, one column, for one panel; 7 in, a page, for
more) with no text smaller than 8 pt at that size, and says what it shows:

* a caption above the panels: the model, the kind of result (DMFT and its mode, simulation and
  its size), the parameter values (``param_*``) and the main settings;
* each panel is headed by the definitions of what it draws, read from the ``observe NAME = EXPR``
  lines of the model source (the attribute ``model_source``); its y axis is labelled with the
  observable's name;
* the x axis states the unit of time: ``step`` for models with an ``update:`` block, ``time t =
  step·dt (dt = ...)`` for flows (the attribute ``dt``);
* every observable with ``<name>_sem`` gets a band of mean ± 1 standard error;
* observables whose names differ only by a ``train``/``test`` prefix or suffix share a panel (and
  so do ``<name>_bias`` and ``<name>_variance`` with ``<name>``); a panel of several is headed by
  a legend, above the data, that gives each curve's definition.

The ``*_figure`` functions return the matplotlib figure (for tests and notebooks; the caller
closes it); the ``plot_*`` functions write it as a PNG and close it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.textpath import text_to_path  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from dmftc.errors import DmftcError  # noqa: E402
from dmftc.results import dataset as results  # noqa: E402
from dmftc.results.sweep import swept_dims  # noqa: E402

SINGLE_COLUMN = 3.4  # inches: one journal column
DOUBLE_COLUMN = 7.0  # inches: the width of a page
MIN_FONT = 8  # points, at the printed size
LINE_IN = 0.16  # inches: the height of a line of 8 pt text
DPI = 300
MAX_COLUMNS = 3
MAX_MARKERS = 25  # markers drawn per curve with standard errors, in overlays
MAX_LEGEND = 10  # a sweep with more values than this gets a colour bar instead of a legend
BAND_ALPHA = 0.25
LINESTYLES = ("-", ":", "-.", (0, (5, 1, 1, 1)))
TRAIN_STYLE = "--"
DECADES = 100  # a positive curve spanning this ratio gets a logarithmic axis
SWEEP_COLOURS = matplotlib.colors.ListedColormap(plt.cm.viridis(np.linspace(0, 0.9, 256)))  # no pale yellow

STYLE = {
    "font.size": MIN_FONT,
    "axes.titlesize": MIN_FONT,
    "axes.labelsize": 9,
    "xtick.labelsize": MIN_FONT,
    "ytick.labelsize": MIN_FONT,
    "legend.fontsize": MIN_FONT,
    "legend.title_fontsize": MIN_FONT,
    "figure.titlesize": MIN_FONT,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 3,
    "ytick.major.size": 3,
    "lines.linewidth": 1.2,
    "lines.markersize": 3,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.35,
    "legend.frameon": False,
    "legend.handlelength": 2.4,
    "legend.borderpad": 0.2,
    "legend.labelspacing": 0.25,
    "axes.formatter.use_mathtext": True,
    "axes.formatter.limits": (-3, 4),
    "mathtext.default": "regular",
    "image.cmap": "viridis",
}

# Variables that the classes add, with no `observe` line to define them (docs/language.md §7).
KNOWN = {
    "mu": "Lagrange multiplier of the spherical constraint",
    "m": "overlap with the signal",
    "eigenvalue_mean": "mean eigenvalue of WᵀW",
    "eigenvalue_variance": "variance of the eigenvalues of WᵀW",
    "spacing_s2": "⟨s²⟩/⟨s⟩² of the unfolded bulk spacings",
}
KNOWN_TWO_TIME = {
    "C_theta": "weight correlation E[θ(t) θ(s)]",
    "R_theta": "weight response E[∂θ(t)/∂ν(s)]",
    "C_g": "gradient correlation E[g(t) g(s)]",
    "R_g": "gradient response E[∂g(t)/∂ω(s)]",
    "C": "correlation x(t)·x(s)/N",
    "R": "response δx(t)/δh(s), averaged",
}
# Settings named in the caption after the kind (steps and dt are on the x axis).
CAPTION_SETTINGS = ("method", "responses", "seed")


# ------------------------------------------------------------------------- what a result is


def observable_definitions(ds: xr.Dataset) -> dict[str, str]:
    """``name -> expression`` of each ``observe name = expression`` line of ``model_source``."""
    source = str(ds.attrs.get("model_source", ""))
    source = re.sub(r"\\[ \t]*\r?\n", " ", source)  # line continuations (grammars/dmft.lark)
    found = {}
    for line in source.splitlines():
        match = re.match(r"\s*observe\s+([A-Za-z_]\w*)\s*=\s*(.*)$", line.split("#", 1)[0])
        if match:
            found[match.group(1)] = " ".join(match.group(2).split())
    return found


def definition(datasets: list[xr.Dataset], name: str) -> str:
    """How ``name`` is defined: ``name = expression`` from the model source, a description of a
    variable that the classes add (``mu``, ``<name>_bias``, ...), or the name alone."""
    for ds in datasets:
        expression = observable_definitions(ds).get(name)
        if expression:
            return f"{name} = {expression}"
    if name.endswith("_bias") and len(name) > len("_bias"):
        return f"{name}: of the mean predictor"
    if name.endswith("_variance") and len(name) > len("_variance"):
        return f"{name} = total − bias"
    if name in KNOWN:
        return f"{name}: {KNOWN[name]}"
    return name


def is_flow(ds: xr.Dataset) -> bool:
    """A flow has the attribute ``dt`` and the time ``step * dt``."""
    if "dt" not in ds.attrs:
        return False
    step, time = ds["step"].values, ds["time"].values
    return bool(np.allclose(time, step * float(ds.attrs["dt"]), rtol=1e-9, atol=1e-12))


def time_label(ds: xr.Dataset, variable: str | None = None) -> str:
    """The label of a time axis with its unit: ``step`` for update models, ``time t = step·dt
    (dt = 0.01)`` for flows, ``time t`` for a time grid of another kind (adaptive).

    ``variable`` names the time (``s`` for the second time of a heat map: ``step s``)."""
    if is_flow(ds):
        return f"time {variable or 't'} = step·dt (dt = {float(ds.attrs['dt']):g})"
    if np.allclose(ds["time"].values, ds["step"].values):
        return f"step {variable}" if variable else "step"
    return f"time {variable or 't'}"


def kind_text(ds: xr.Dataset) -> str:
    """The kind of a result with its size: ``DMFT (Monte-Carlo, M = 4000)``, ``simulation
    (d = 500, n = 1500, 5 runs)``."""
    kind = str(ds.attrs.get("kind", "result"))
    details = []
    if kind == "dmft":
        kind = "DMFT"
        if "mode" in ds.attrs:
            details.append(str(ds.attrs["mode"]).replace("monte-carlo", "Monte-Carlo"))
        if "samples" in ds.attrs:
            details.append(f"M = {ds.attrs['samples']}")
    elif kind == "simulation":
        for key, text in (("dim", "d = {}"), ("samples_n", "n = {}"), ("runs", "{} runs")):
            if key in ds.attrs:
                details.append(text.format(ds.attrs[key]))
    elif "samples" in ds.attrs:
        details.append(f"M = {ds.attrs['samples']}")
    return f"{kind} ({', '.join(details)})" if details else kind


def default_label(ds: xr.Dataset) -> str:
    """A legend label from the attributes: the kind of result and its size."""
    return kind_text(ds)


def parameters(ds: xr.Dataset) -> dict[str, float]:
    """The parameter values of a result: the numeric ``param_*`` attributes (a sweep's fixed
    parameters), else the JSON attribute ``parameters``."""
    found = {
        key[len("param_") :]: float(value)
        for key, value in ds.attrs.items()
        if key.startswith("param_") and isinstance(value, (int, float, np.integer, np.floating))
    }
    if not found and "parameters" in ds.attrs:
        try:
            found = {name: float(value) for name, value in json.loads(ds.attrs["parameters"]).items()}
        except (ValueError, TypeError, AttributeError):
            found = {}
    return found


def _format_parameters(values: dict[str, float]) -> str:
    return ", ".join(f"{name} = {value:g}" for name, value in values.items())


def _settings_text(ds: xr.Dataset) -> str:
    settings = {key: ds.attrs[key] for key in CAPTION_SETTINGS if key in ds.attrs}
    return ", ".join(
        f"{key} = {value:g}" if isinstance(value, float) else f"{key} = {value}" for key, value in settings.items()
    )


def caption(datasets: list[xr.Dataset], extra: list[str] | None = None) -> list[str]:
    """The caption of a figure, line by line: model, kind and settings; parameter values; then
    ``extra``. With several results, the caption gives what they share and the legend the rest."""
    models = list(dict.fromkeys(str(ds.attrs["model"]) for ds in datasets if ds.attrs.get("model")))
    head = ", ".join(models) if models else "result"
    common = _common_parameters(datasets)
    if len(datasets) == 1:
        settings = _settings_text(datasets[0])
        lines = [f"{head} — {kind_text(datasets[0])}" + (f"; {settings}" if settings else "")]
        if common:
            lines.append(f"parameters: {_format_parameters(common)}")
    else:
        lines = [head + (f"; common parameters: {_format_parameters(common)}" if common else "")]
    return lines + list(extra or [])


def _common_parameters(datasets: list[xr.Dataset]) -> dict[str, float]:
    all_parameters = [parameters(ds) for ds in datasets]
    first = all_parameters[0] if all_parameters else {}
    return {name: value for name, value in first.items() if all(p.get(name) == value for p in all_parameters[1:])}


def _differing_parameters(ds: xr.Dataset, datasets: list[xr.Dataset]) -> str:
    common = _common_parameters(datasets)
    return _format_parameters({name: value for name, value in parameters(ds).items() if name not in common})


# ------------------------------------------------------------------------------------ panels


@dataclass(frozen=True)
class Panel:
    """What one panel draws: its observables (one, a train/test pair, a bias-variance split)
    and the label of its y axis."""

    members: tuple[str, ...]
    ylabel: str


_TRAIN_TEST = re.compile(r"^(train|test)(_?)(.+)$|^(.+?)(_?)(train|test)$")


def _train_test_template(name: str) -> tuple[str, str, str] | None:
    """``train_loss`` -> (``{}_loss``, ``train``, ``loss``): the name with its train/test part
    replaced by ``{}``, that part, and the rest (the quantity)."""
    match = _TRAIN_TEST.match(name)
    if not match:
        return None
    if match.group(1):
        return "{}" + match.group(2) + match.group(3), match.group(1), match.group(3)
    return match.group(4) + match.group(5) + "{}", match.group(6), match.group(4)


def panels(variables: list[str]) -> list[Panel]:
    """Group observables into panels: names that differ only by a ``train``/``test`` prefix or
    suffix share one, and ``<name>_bias``, ``<name>_variance`` join ``<name>``."""
    present = set(variables)
    groups: dict[str, list[str]] = {}
    ylabels: dict[str, str] = {}
    for name in variables:
        base = name
        for suffix in ("_bias", "_variance"):
            if name.endswith(suffix) and name[: -len(suffix)] in present:
                base = name[: -len(suffix)]
        key, ylabel = base, base
        template = _train_test_template(base)
        if template is not None:
            pattern, part, quantity = template
            if pattern.format("test" if part == "train" else "train") in present:
                key, ylabel = pattern, quantity
        groups.setdefault(key, []).append(name)
        ylabels[key] = ylabel
    return [Panel(tuple(members), ylabels[key]) for key, members in groups.items()]


def _member_styles(members: tuple[str, ...]) -> dict[str, object]:
    """Line styles within a panel: train dashed, the others solid, dotted, ..."""
    styles, others = {}, iter(LINESTYLES)
    for name in members:
        template = _train_test_template(name)
        train = template is not None and template[1] == "train" and len(members) > 1
        styles[name] = TRAIN_STYLE if train else next(others, "-")
    return styles


def _text_width(text: str) -> float:
    """The width of a line of 8 pt text, in inches, as matplotlib draws it."""
    width, _, _ = text_to_path.get_text_width_height_descent(text, FontProperties(size=MIN_FONT), ismath=False)
    return width / 72


def _wrap(text: str, width_in: float) -> str:
    """Wrap 8 pt text to a width in inches, at spaces, never inside ``name = value`` (continued
    lines are indented)."""
    wrapped = []
    for line in text.splitlines():
        words = re.sub(r"(\S+) = (\S+)", "\\1\u00a0=\u00a0\\2", line).split(" ")
        current = words[0]
        for word in words[1:]:
            if _text_width(f"{current} {word}".replace("\u00a0", " ")) <= width_in:
                current = f"{current} {word}"
            else:
                wrapped.append(current)
                current = f"  {word}"
        wrapped.append(current)
    return "\n".join(wrapped).replace("\u00a0", " ")


def _lines(text: str) -> int:
    return len(text.splitlines())


def _grid(count: int) -> tuple[int, int]:
    """Rows and columns for ``count`` panels: 1, 1x2, 1x3, 2x2, 2x3, 3x3, then rows of 3."""
    columns = 1 if count == 1 else 2 if count in (2, 4) else MAX_COLUMNS
    return math.ceil(count / columns), columns


@dataclass(frozen=True)
class Layout:
    """The figure's panels and the widths that text is wrapped to."""

    rows: int
    columns: int
    width: float  # inches, the figure
    row_height: float  # inches, a row of panels without its heading

    @classmethod
    def for_panels(cls, count: int) -> Layout:
        rows, columns = _grid(count)
        if columns == 1:
            return cls(rows, columns, SINGLE_COLUMN, 2.0)
        return cls(rows, columns, DOUBLE_COLUMN, 2.2 if columns == 2 else 1.8)

    @property
    def panel_width(self) -> float:
        return self.width / self.columns - 0.55  # less the y tick labels and the y label


def _figure(layout: Layout, count: int, headings: list[int], caption_text: str, legend_rows: int = 0):
    """A figure with ``count`` panels, each row tall enough for its headings (lines of text)."""
    heading_in = sum(
        max(headings[row * layout.columns : (row + 1) * layout.columns], default=1) for row in range(layout.rows)
    )
    height = (
        layout.rows * (layout.row_height + 0.1)
        + LINE_IN * (heading_in + _lines(caption_text))
        + 0.22 * legend_rows
        + 0.35
    )
    fig, axes = plt.subplots(
        layout.rows, layout.columns, figsize=(layout.width, height), sharex=True, squeeze=False, layout="constrained"
    )
    fig.get_layout_engine().set(w_pad=0.03, h_pad=0.03, hspace=0.04, wspace=0.04)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    fig.suptitle(caption_text, x=0.01, ha="left", fontsize=MIN_FONT, linespacing=1.3)
    return fig, axes


def _heading_text(datasets: list[xr.Dataset], panel: Panel, width_in: float) -> list[str]:
    """The definition of each curve of a panel, wrapped to the panel's width."""
    width = width_in - (0.3 if len(panel.members) > 1 else 0.0)  # the legend's line samples
    return [_wrap(definition(datasets, name), width) for name in panel.members]


def _draw_heading(ax, texts: list[str], handles: list | None) -> None:
    """A panel's heading: its definition as the title, or for several curves a legend above the
    data whose entries are the definitions."""
    if handles is None:
        ax.set_title("\n".join(texts), loc="left", fontsize=MIN_FONT)
        return
    ax.legend(
        handles,
        texts,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        borderaxespad=0.15,
        borderpad=0.0,
        handlelength=2.0,
        handletextpad=0.4,
        prop={"size": MIN_FONT},
    )


def _finish_axes(axes, count: int, ds: xr.Dataset, xlabel: str | None = None) -> None:
    """The x label on the lowest panel of each column (the panels share their x axis), integer
    ticks for steps; a log axis for a result written at log-spaced steps (``--log-steps``)."""
    columns = axes.shape[1]
    log_spaced = xlabel is None and "step" in ds.dims and ds.sizes["step"] < int(ds.step[-1]) + 1
    for index, ax in enumerate(axes.flat[:count]):
        if log_spaced:
            ax.set_xscale("symlog", linthresh=1.0)  # step 0 stays on the axis
        elif xlabel is None and not is_flow(ds):
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 5, 10]))
        if index + columns >= count:
            ax.tick_params(labelbottom=True)
            ax.set_xlabel(xlabel or time_label(ds))


def _spans_decades(arrays: list[np.ndarray]) -> bool:
    """A logarithmic axis suits curves that are positive (a curve may start at 0: that point is
    not drawn) and whose values span two decades or more."""
    positives = []
    for values in arrays:
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        if values.min() < 0 or np.any(values[1:] == 0):
            return False
        positives.append(values[values > 0])
    values = np.concatenate(positives) if positives else np.array([])
    return values.size > 1 and values.max() / values.min() > DECADES


def _band(ax, time, values, sem, color, log: bool) -> None:
    lower, upper = values - sem, values + sem
    if log:  # a band reaching 0 would fill a log axis down to its bottom
        lower = np.where(lower > 0, lower, values / 2)
    ax.fill_between(time, lower, upper, color=color, alpha=BAND_ALPHA, linewidth=0)


# ------------------------------------------------------------------- observables against time


def observables_figure(datasets: list[xr.Dataset], variables: list[str] | None = None, labels: list[str] | None = None):
    """The figure of :func:`plot_observables` (the caller closes it)."""
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
    overlay = len(datasets) > 1
    with_sem = [any(f"{name}_sem" in ds for name in variables) for ds in datasets]
    extra = [f"shaded: mean ± 1 s.e.{_sem_source(datasets[0])}"] if not overlay and with_sem[0] else []
    layout = Layout.for_panels(len(panels(variables)))
    caption_text = _wrap("\n".join(caption(datasets, extra)), layout.width - 0.1)
    groups = panels(variables)
    headings = [_heading_text(datasets, panel, layout.panel_width) for panel in groups]

    with plt.rc_context(STYLE):
        legend_rows = len(datasets) if overlay else 0
        fig, axes = _figure(layout, len(groups), [sum(map(_lines, h)) for h in headings], caption_text, legend_rows)
        for ax, panel, heading in zip(axes.flat, groups, headings):
            styles = _member_styles(panel.members)
            log = _spans_decades([ds[name].values for ds in datasets for name in panel.members if name in ds])
            for number, ds in enumerate(datasets):
                for index, name in enumerate(panel.members):
                    if name in ds:
                        color = f"C{number}" if overlay else f"C{index}"
                        _draw_curve(ax, ds, name, color, styles[name], markers=overlay and with_sem[number], log=log)
            if log:
                ax.set_yscale("log", nonpositive="mask")
            ax.set_ylabel(panel.ylabel)
            ax.grid(True)
            handles = None
            if len(panel.members) > 1:
                handles = [
                    Line2D([], [], color="0.25" if overlay else f"C{index}", linestyle=styles[name])
                    for index, name in enumerate(panel.members)
                ]
            _draw_heading(ax, heading, handles)
        _finish_axes(axes, len(groups), datasets[0])
        if overlay:
            _dataset_legend(fig, datasets, labels, with_sem)
    return fig


def _dataset_legend(fig, datasets: list[xr.Dataset], labels: list[str], with_sem: list[bool]) -> None:
    """Below the panels: which colour is which result (and its parameters where they differ)."""
    handles, texts = [], []
    for number, (ds, label, sem) in enumerate(zip(datasets, labels, with_sem)):
        line = Line2D([], [], color=f"C{number}", marker="o" if sem else None, markersize=2.5)
        handles.append((line, Patch(color=f"C{number}", alpha=BAND_ALPHA, linewidth=0)) if sem else line)
        differing = _differing_parameters(ds, datasets)
        texts.append(label + (f"; {differing}" if differing else "") + (", mean ± 1 s.e." if sem else ""))
    fig.legend(handles, texts, loc="outside lower left", ncols=1)


def _sem_source(ds: xr.Dataset) -> str:
    if ds.attrs.get("kind") == "simulation" and "runs" in ds.attrs:
        return f" over {ds.attrs['runs']} runs"
    if "samples" in ds.attrs:
        return f" (Monte-Carlo, M = {ds.attrs['samples']})"
    return ""


def _draw_curve(ax, ds: xr.Dataset, name: str, color: str, linestyle, markers: bool, log: bool) -> None:
    time = ds["time"].values
    values = ds[name].values
    style = {"color": color, "linestyle": linestyle, "label": name, "zorder": 2}
    if markers:  # measured points, under the lines of the results without errors
        style |= {"marker": "o", "markersize": 2.5, "markevery": max(1, len(time) // MAX_MARKERS), "zorder": 1.9}
    ax.plot(time, values, **style)
    if f"{name}_sem" in ds:
        _band(ax, time, values, ds[f"{name}_sem"].values, color, log)


def plot_observables(
    datasets: list[xr.Dataset],
    path: str | Path,
    variables: list[str] | None = None,
    labels: list[str] | None = None,
) -> None:
    """Draw observables against ``time``, with every dataset overlaid.

    One panel per observable, train/test pairs and bias/variance splits sharing one; a dataset
    with ``<name>_sem`` is drawn with a band of ±1 standard error (and markers, when overlaid).
    ``variables`` defaults to every observable of any dataset; ``labels`` to :func:`default_label`.
    A positive observable spanning more than two decades gets a logarithmic axis.
    """
    fig = observables_figure(datasets, variables, labels)
    try:
        _save(fig, path)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- two-time functions


def two_time_figure(ds: xr.Dataset, name: str):
    """The figure of :func:`plot_two_time` (the caller closes it)."""
    available = results.two_time_names(ds)
    if name not in available:
        raise DmftcError(
            f"unknown two-time function '{name}'", kind="usage", hint=f"available: {', '.join(available) or 'none'}"
        )
    values = np.array(ds[name].values, dtype=float)
    t, s = ds["time"].values, ds["time2"].values
    extra = []
    if name.startswith("R") and values.shape[0] > 1:
        # a response vanishes for s > t (and at s = t in discrete time): left grey, so that the
        # colours show the rest
        for offset, where in ((0, "s ≥ t"), (1, "s > t")):
            acausal = np.triu(np.ones(values.shape, dtype=bool), k=offset)
            if not np.any(values[acausal]):
                values[acausal] = np.nan
                extra.append(f"grey: {where}, where {name} vanishes (causality)")
                break
    caption_text = _wrap("\n".join(caption([ds], extra)), SINGLE_COLUMN - 0.1)
    title = _wrap(
        f"{name}(t, s)" + (f": {KNOWN_TWO_TIME[name]}" if name in KNOWN_TWO_TIME else ""), SINGLE_COLUMN - 0.7
    )
    height = LINE_IN * (_lines(caption_text) + _lines(title)) + 2.35 + 0.55
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, height), layout="constrained")
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() < 0 < finite.max():  # both signs: white at zero
            norm, cmap = matplotlib.colors.CenteredNorm(0.0), "RdBu_r"
        else:
            norm, cmap = None, "viridis"
        mesh = ax.pcolormesh(s, t, values, shading="nearest", norm=norm, cmap=cmap, rasterized=True)
        ax.set_facecolor("0.82")  # the cells left out (NaN): not a colour of the scale
        bar = fig.colorbar(mesh, ax=ax, pad=0.02, fraction=0.08)
        bar.set_label(f"{name}(t, s)")
        ax.set_xlabel(time_label(ds, "s"))
        ax.set_ylabel(time_label(ds, "t"))
        if not is_flow(ds):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        ax.set_title(title, fontsize=MIN_FONT, loc="left")
        fig.suptitle(caption_text, x=0.01, ha="left", fontsize=MIN_FONT, linespacing=1.3)
    return fig


def plot_two_time(ds: xr.Dataset, name: str, path: str | Path) -> None:
    """Draw a two-time function as a heat map: s across, t up."""
    fig = two_time_figure(ds, name)
    try:
        _save(fig, path)
    finally:
        plt.close(fig)


def check_plot_path(path: str | Path, model_path: str | Path | None = None) -> None:
    """Refuse, before any work, a plot path that is not an image file name or cannot be written
    (:func:`dmftc.results.dataset.check_writable`)."""
    _image_format(path)
    results.check_writable(path, model_path=model_path)


def _image_format(path: str | Path) -> str:
    """The image format that the extension of ``path`` names (``png``, ``pdf``, ``svg``, ...)."""
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lower().removeprefix(".")
    if suffix not in formats:
        raise DmftcError(
            "cannot draw: not the name of an image file",
            kind="io",
            filename=str(path),
            hint=f"end the file name in one of {', '.join('.' + name for name in sorted(formats))}",
        )
    return suffix


def _save(fig, path: str | Path) -> None:
    image_format = _image_format(path)
    with results.replacing(path) as partial:
        fig.savefig(partial, dpi=DPI, format=image_format)


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
    if len({ds.attrs.get("model") for ds in datasets}) > 1:
        labels = [f"{ds.attrs.get('model', '?')}: {label}" for label, ds in zip(labels, datasets)]
    if len(set(labels)) < len(labels):
        labels = [f"{label} [{Path(path).name}]" for label, path in zip(labels, files)]
    plot_observables(datasets, output, variables=variables, labels=labels)


# ------------------------------------------------------------------------------------ sweeps


def select_points(ds: xr.Dataset, select: dict[str, str | float]) -> xr.Dataset:
    """Fix swept parameters of a sweep (name -> value, the nearest grid value is taken); each
    becomes an attribute ``param_<name>`` like the parameters that were not swept."""
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
        ds.attrs = {**ds.attrs, f"param_{name}": float(ds[name].values)}
    return ds


def sweep_figure(ds: xr.Dataset, variables: list[str] | None = None, at_step: int | None = None):
    """The figure of :func:`plot_sweep` (the caller closes it)."""
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

    failed = int(np.count_nonzero(ds["status"].values != "ok")) if "status" in ds else 0
    note = f"sweep over {' × '.join(f'{dim} ({ds.sizes[dim]} values)' for dim in dims)}"
    if failed:
        note += f"; {failed} failed point(s)" + (", marked ×" if len(dims) == 2 else ", not drawn")
    with plt.rc_context(STYLE):
        if len(dims) == 1:
            return _sweep_curves_figure(ds, dims[0], variables, note)
        return _phase_diagram_figure(ds.sortby(dims), dims, variables, step, note)


def plot_sweep(
    ds: xr.Dataset, path: str | Path, variables: list[str] | None = None, at_step: int | None = None
) -> None:
    """Draw a sweep, one panel per observable (default: all).

    One swept parameter: the observable against time, one curve per value (train/test pairs
    share a panel). Two: a heat map of the observable at step ``at_step`` (default: the last)
    over the two parameters, a phase diagram, with failed points crossed. More: fix some with
    :func:`select_points` first.
    """
    fig = sweep_figure(ds, variables, at_step)
    try:
        _save(fig, path)
    finally:
        plt.close(fig)


def _log_scale(values: np.ndarray) -> bool:
    """Parameter values get a logarithmic scale when positive and spanning two decades or more,
    or evenly spaced in their logarithm (0.05, 0.1, 0.2, 0.4)."""
    values = np.sort(np.asarray(values, dtype=float))
    if values.size < 2 or values.min() <= 0:
        return False
    if values.max() / values.min() >= 100:
        return True
    ratios = values[1:] / values[:-1]
    return bool(values.size >= 3 and ratios.min() > 1.5 and np.allclose(ratios, ratios[0], rtol=0.05))


def _sweep_norm(values: np.ndarray):
    """Curve colours by parameter value."""
    norm = matplotlib.colors.LogNorm if _log_scale(values) else matplotlib.colors.Normalize
    return norm(values.min(), values.max())


def _sweep_curves_figure(ds: xr.Dataset, dim: str, variables: list[str], note: str):
    values = ds[dim].values
    norm = _sweep_norm(values)
    key = len(values) <= MAX_LEGEND  # a legend of the values, else a colour bar
    groups = panels(variables)
    layout = Layout.for_panels(len(groups))
    caption_text = _wrap("\n".join(caption([ds], [note])), layout.width - 0.1)
    headings = [_heading_text([ds], panel, layout.panel_width) for panel in groups]
    legend_rows = math.ceil(len(values) / 5) if key else 0
    fig, axes = _figure(layout, len(groups), [sum(map(_lines, h)) for h in headings], caption_text, legend_rows)
    status = ds["status"].values if "status" in ds else np.full(len(values), "ok")
    for ax, panel, heading in zip(axes.flat, groups, headings):
        styles = _member_styles(panel.members)
        curves = [(name, index) for name in panel.members for index in range(len(values))]
        for name, index in curves:
            ax.plot(
                ds["time"].values,
                ds[name].isel({dim: index}).values,
                color=SWEEP_COLOURS(norm(values[index])),
                linestyle=styles[name],
            )
        if _spans_decades([ds[name].isel({dim: index}).values for name, index in curves]):
            ax.set_yscale("log", nonpositive="mask")
        ax.set_ylabel(panel.ylabel)
        ax.grid(True)
        handles = None
        if len(panel.members) > 1:
            handles = [Line2D([], [], color="0.25", linestyle=styles[name]) for name in panel.members]
        _draw_heading(ax, heading, handles)
    _finish_axes(axes, len(groups), ds)
    if key:
        handles = [Line2D([], [], color=SWEEP_COLOURS(norm(value))) for value in values]
        texts = [f"{dim} = {value:g}" + ("" if state == "ok" else " (failed)") for value, state in zip(values, status)]
        fig.legend(handles, texts, loc="outside lower center", ncols=min(len(values), 5))
    else:
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=SWEEP_COLOURS)
        fig.colorbar(mappable, ax=axes.ravel().tolist(), label=dim, shrink=0.9)
    return fig


def _phase_diagram_figure(ds: xr.Dataset, dims: list[str], variables: list[str], step: int, note: str):
    layout = Layout.for_panels(len(variables))
    caption_text = _wrap("\n".join(caption([ds], [note])), layout.width - 0.1)
    # a heading may run on above the colour bar, which has none
    headings = [_wrap(definition([ds], name), layout.panel_width - 0.1) for name in variables]
    fig, axes = _figure(layout, len(variables), [_lines(h) for h in headings], caption_text)
    at = f"step {step}" if not is_flow(ds) else f"t = {float(ds['time'].sel(step=step)):g}"
    for ax, name, heading in zip(axes.flat, variables, headings):
        _draw_phase_diagram(fig, ax, ds, dims, name, step, at)
        ax.set_ylabel(dims[1])
        _draw_heading(ax, [heading], None)
    _finish_axes(axes, len(variables), ds, xlabel=dims[0])
    return fig


def _draw_phase_diagram(fig, ax, ds: xr.Dataset, dims: list[str], name: str, step: int, at: str) -> None:
    x, y = ds[dims[0]].values, ds[dims[1]].values
    values = ds[name].sel(step=step).transpose(dims[1], dims[0]).values
    log_x, log_y = _log_scale(x), _log_scale(y)
    finite = values[np.isfinite(values)]
    log_values = finite.size > 1 and finite.min() > 0 and finite.max() / finite.min() > DECADES
    norm = matplotlib.colors.LogNorm() if log_values else None
    mesh = ax.pcolormesh(_cell_edges(x, log_x), _cell_edges(y, log_y), values, shading="flat", norm=norm)
    fig.colorbar(mesh, ax=ax, pad=0.02, label=f"{name} at {at}")
    failed_x, failed_y = np.nonzero(ds["status"].transpose(*dims).values == "failed")
    if failed_x.size:
        ax.plot(x[failed_x], y[failed_y], "x", color="red", markersize=6, markeredgewidth=1.5)
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    for axis, grid in ((ax.xaxis, x), (ax.yaxis, y)):  # a tick at every value of a short grid
        if len(grid) <= 6:
            axis.set_ticks(grid, [f"{v:g}" for v in grid])
            axis.set_minor_locator(matplotlib.ticker.NullLocator())


def _cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Cell boundaries around sorted grid values: midpoints (of the logarithms on a log axis)."""
    v = np.log(values) if log else values.astype(float)
    if v.size == 1:
        edges = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        middle = (v[1:] + v[:-1]) / 2
        edges = np.concatenate([[2 * v[0] - middle[0]], middle, [2 * v[-1] - middle[-1]]])
    return np.exp(edges) if log else edges
