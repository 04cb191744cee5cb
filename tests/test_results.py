"""Result datasets: layout, netCDF round trip, plots, comparisons, and the plot/compare commands."""

import json
from types import SimpleNamespace

import matplotlib.collections
import numpy as np
import pytest
import xarray as xr
from rich.console import Console
from typer.testing import CliRunner

from dmftc.cli import app
from dmftc.errors import DmftcError
from dmftc.results import agreement, plot
from dmftc.results import dataset as results

STEPS = 20
TIME = 0.1 * np.arange(STEPS + 1)
SOURCE = "model toy\nparam lr = 0.1\n"
runner = CliRunner()


def attributes(kind: str, **settings) -> dict:
    return results.run_attributes(
        kind=kind,
        model=SimpleNamespace(name="toy", path="models/toy.dmft", source=SOURCE),
        params={"lr": 0.1, "lam": 0.05},
        settings={"steps": STEPS, "dt": 0.1, **settings},
        timings={"run": 0.25},
    )


def theory() -> xr.Dataset:
    """A DMFT-like result: a decaying loss, a growing overlap and two-time functions."""
    s, t = np.meshgrid(TIME, TIME)
    return results.make_dataset(
        {"loss": np.exp(-TIME), "overlap": 1 - np.exp(-TIME)},
        TIME,
        two_time={"C": np.exp(-np.abs(t - s)), "R": np.where(t > s, np.exp(-(t - s)), 0.0)},
        series={"C_teacher": np.exp(-TIME / 2)},
        attrs=attributes("dmft", samples=1000, mode="exact"),
    )


def experiment(shift: float = 0.0) -> xr.Dataset:
    """A simulation-like result: the same curves shifted, with standard errors."""
    sem = np.full(STEPS + 1, 0.05)
    return results.make_dataset(
        {"loss": np.exp(-TIME) + shift, "overlap": 1 - np.exp(-TIME) + shift},
        TIME,
        sem={"loss": sem, "overlap": sem},
        attrs=attributes("simulation", dim=200, runs=10),
    )


# layout and attributes


def test_layout():
    ds = theory()
    assert ds["loss"].dims == ("step",)
    assert ds["C"].dims == ("step", "step2")
    assert list(ds["step"].values) == list(range(STEPS + 1))
    np.testing.assert_allclose(ds["time2"].values, TIME)
    assert results.observable_names(ds) == ["loss", "overlap"]
    assert results.observable_names(experiment()) == ["loss", "overlap"]
    assert results.two_time_names(ds) == ["C", "R"]


def test_run_attributes():
    attrs = attributes("simulation", dim=200, runs=10, seed=None, progress=True)
    assert attrs["kind"] == "simulation" and attrs["model"] == "toy"
    assert attrs["model_source"] == SOURCE and len(attrs["content_hash"]) == 64
    assert json.loads(attrs["parameters"]) == {"lr": 0.1, "lam": 0.05}
    assert attrs["param_lr"] == 0.1 and attrs["param_lam"] == 0.05
    assert attrs["dim"] == 200 and attrs["progress"] == 1 and "seed" not in attrs
    assert attrs["time_run_s"] == 0.25
    assert "numpy" in json.loads(attrs["versions"])
    assert attrs["created"].endswith("+00:00")


def test_make_dataset_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="shape"):
        results.make_dataset({"loss": np.ones(3)}, TIME)
    with pytest.raises(ValueError, match="unknown observables"):
        results.make_dataset({"loss": np.ones_like(TIME)}, TIME, sem={"gap": np.ones_like(TIME)})


# netCDF input and output


def test_round_trip(tmp_path):
    ds = theory()
    path = tmp_path / "theory.nc"
    results.write(ds, path)
    back = results.read(path)
    xr.testing.assert_identical(back, ds)
    assert back.attrs == ds.attrs
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_read_errors(tmp_path):
    with pytest.raises(DmftcError, match="no such file") as missing:
        results.read(tmp_path / "missing.nc")
    assert missing.value.kind == "io"
    text = tmp_path / "notes.txt"
    text.write_text("not a netCDF file\n")
    with pytest.raises(DmftcError, match="not a netCDF file"):
        results.read(text)
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("row", np.arange(3.0))}).to_netcdf(other, engine="h5netcdf")
    with pytest.raises(DmftcError, match="no dimension 'step'"):
        results.read(other)


def test_write_into_missing_directory(tmp_path):
    with pytest.raises(DmftcError, match="does not exist") as error:
        results.write(theory(), tmp_path / "nowhere" / "out.nc")
    assert error.value.kind == "io"


def test_print_final_values():
    console = Console(record=True, width=120)
    results.print_final_values(experiment(), console)
    text = console.export_text()
    assert "simulation toy" in text and "dim=200" in text
    assert f"{np.exp(-2.0):.6g}" in text and "± 0.05" in text


# plots


def assert_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_observables(tmp_path):
    plot.plot_observables([theory()], tmp_path / "one.png")
    plot.plot_observables([theory(), experiment()], tmp_path / "two.png")
    plot.plot_observables([experiment()], tmp_path / "loss.png", variables=["loss"], labels=["sim"])
    for name in ("one", "two", "loss"):
        assert_png(tmp_path / f"{name}.png")


def test_plot_two_time(tmp_path):
    plot.plot_two_time(theory(), "C", tmp_path / "C.png")
    assert_png(tmp_path / "C.png")


def test_plot_unknown_names(tmp_path):
    with pytest.raises(DmftcError, match="'gap'") as error:
        plot.plot_observables([theory()], tmp_path / "x.png", variables=["gap"])
    assert "loss, overlap" in error.value.hint
    with pytest.raises(DmftcError, match="'Q'") as error:
        plot.plot_two_time(theory(), "Q", tmp_path / "x.png")
    assert "C, R" in error.value.hint


# plots: what a referee checks (labels, units, bands, layout), from the matplotlib objects

PLOT_SOURCE = """model toy
param lr = 0.1
param lam = 0.05
observe train_loss = train(loss)   # on the training samples
observe test_loss  = test(loss)
observe overlap    = mean(w * \\
                          wstar)
observe gap        = mean(w^2)
"""


def toy(kind: str = "dmft", *, flow: bool = True, sem: bool = False, shift: float = 0.0, **settings) -> xr.Dataset:
    """A result with a train/test pair, a flow (time = step * dt) or an update model (time = step)."""
    time = TIME if flow else np.arange(STEPS + 1.0)
    observables = {
        "train_loss": np.exp(-3 * time) + 0.05 + shift,
        "test_loss": np.exp(-time) + 0.1 + shift,
        "overlap": 1 - np.exp(-time) + shift,
        "gap": np.exp(-time) + shift,
    }
    attrs = results.run_attributes(
        kind=kind,
        model=SimpleNamespace(name="toy", path="models/toy.dmft", source=PLOT_SOURCE),
        params={"lr": 0.1, "lam": 0.05},
        settings={"steps": STEPS, "dt": 0.1 if flow else None, "seed": 0, **settings},
        timings={},
    )
    errors = {name: np.full(time.size, 0.02) for name in observables} if sem else None
    return results.make_dataset(observables, time, sem=errors, attrs=attrs)


def toy_sweep(dims: dict[str, list[float]], failed: tuple = ()) -> xr.Dataset:
    """A sweep laid out as dmftc/results/sweep.py writes it, over one or two parameters."""
    shape = tuple(len(values) for values in dims.values())
    scale = np.ones(shape)
    for axis, values in enumerate(dims.values()):
        scale = scale * np.expand_dims(np.asarray(values), [a for a in range(len(dims)) if a != axis])
    decay = np.exp(-np.multiply.outer(scale, np.arange(STEPS + 1.0)))
    status = np.full(shape, "ok", dtype=object)
    for index in failed:
        status[index] = "failed"
        decay[index] = np.nan
    names = list(dims)
    ds = xr.Dataset(
        {
            "train_loss": ((*names, "step"), decay + 0.01),
            "test_loss": ((*names, "step"), decay + 0.1),
            "overlap": ((*names, "step"), 1 - decay),
            "status": (names, status.astype(str)),
        },
        coords={**dims, "step": np.arange(STEPS + 1), "time": ("step", np.arange(STEPS + 1.0))},
        attrs={
            "kind": "dmft",
            "model": "toy",
            "model_source": PLOT_SOURCE,
            "mode": "exact",
            "sweep_dims": json.dumps(names),
            "param_sigma": 0.3,
        },
    )
    return ds


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def panel_axes(fig):
    """The panels: the visible axes that are not colour bars."""
    return [ax for ax in visible_axes(fig) if ax.get_label() != "<colorbar>"]


def drawn_texts(fig):
    """Every piece of text the figure draws: caption, titles, labels, tick labels, legends."""
    fig.canvas.draw()
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for legend in fig.legends:
        texts += legend.get_texts()
    for ax in visible_axes(fig):
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        texts += [ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()]
        for axis in (ax.xaxis, ax.yaxis):
            texts += drawn_tick_labels(axis)
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
    return [text for text in texts if text.get_visible() and text.get_text().strip()]


def drawn_tick_labels(axis):
    """The tick labels drawn: those of ticks within the view (matplotlib keeps others)."""
    low, high = sorted(axis.get_view_interval())
    margin = 1e-9 * (abs(low) + abs(high))
    labels = []
    for locations, texts in (
        (axis.get_majorticklocs(), axis.get_majorticklabels()),
        (axis.get_minorticklocs(), axis.get_minorticklabels()),
    ):
        labels += [text for loc, text in zip(locations, texts) if low - margin <= loc <= high + margin]
    return [label for label in labels if label.get_visible()]


def heading(ax) -> str:
    """A panel's heading: its title, or the legend above it that defines its curves."""
    legend = ax.get_legend()
    return ax.get_title(loc="left") + (" ".join(t.get_text() for t in legend.get_texts()) if legend else "")


def assert_readable(fig):
    """Journal width, no text under 8 pt, nothing outside the figure, no two texts overlapping,
    no legend over a panel."""
    assert fig.get_figwidth() in (plot.SINGLE_COLUMN, plot.DOUBLE_COLUMN)
    renderer = fig.canvas.get_renderer()
    texts = drawn_texts(fig)
    boxes = [text.get_window_extent(renderer) for text in texts]
    figure = fig.bbox
    for text, box in zip(texts, boxes):
        assert text.get_fontsize() >= 8, text.get_text()
        assert box.x0 >= figure.x0 - 1 and box.x1 <= figure.x1 + 1, f"outside the figure: {text.get_text()!r}"
        assert box.y0 >= figure.y0 - 1 and box.y1 <= figure.y1 + 1, f"outside the figure: {text.get_text()!r}"
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            overlap = boxes[i].intersection(boxes[i], boxes[j])
            if overlap is not None and overlap.width > 1 and overlap.height > 1:
                raise AssertionError(f"{texts[i].get_text()!r} overlaps {texts[j].get_text()!r}")
    legends = list(fig.legends) + [ax.get_legend() for ax in visible_axes(fig) if ax.get_legend() is not None]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in panel_axes(fig):
            overlap = box.intersection(box, ax.bbox)
            assert overlap is None or overlap.height <= 2, "a legend covers a panel"


def bands(ax):
    return [c for c in ax.collections if isinstance(c, matplotlib.collections.PolyCollection)]


def test_observable_definitions():
    definitions = plot.observable_definitions(toy())
    assert definitions == {
        "train_loss": "train(loss)",
        "test_loss": "test(loss)",
        "overlap": "mean(w * wstar)",  # the line continued, the comment dropped
        "gap": "mean(w^2)",
    }
    assert plot.definition([toy()], "overlap") == "overlap = mean(w * wstar)"
    assert plot.definition([toy()], "mu").startswith("mu: Lagrange multiplier")
    assert plot.definition([theory()], "loss") == "loss"  # no observe line: the name alone


def test_panels_pair_train_and_test():
    names = ["train_loss", "test_loss", "loss_train", "loss_test", "trainerr", "testerr", "overlap", "train_mse"]
    names += ["gen_error", "gen_error_bias", "gen_error_variance", "contest", "testament"]
    panels = plot.panels(names)
    assert [panel.members for panel in panels] == [
        ("train_loss", "test_loss"),
        ("loss_train", "loss_test"),
        ("trainerr", "testerr"),
        ("overlap",),
        ("train_mse",),  # no test_mse: alone
        ("gen_error", "gen_error_bias", "gen_error_variance"),
        ("contest",),
        ("testament",),
    ]
    assert [panel.ylabel for panel in panels][:3] == ["loss", "loss", "err"]


def test_time_labels():
    assert plot.time_label(toy(flow=True)) == "time t = step·dt (dt = 0.1)"
    assert plot.time_label(toy(flow=False)) == "step"
    assert plot.time_label(toy(flow=False), "s") == "step s"
    adaptive = toy().assign_coords(time=("step", TIME**2))
    assert plot.time_label(adaptive) == "time t"


def test_plot_labels_units_and_caption():
    for flow, unit in ((True, "time t = step·dt (dt = 0.1)"), (False, "step")):
        fig = plot.observables_figure([toy("dmft", flow=flow, mode="exact")])
        try:
            axes = panel_axes(fig)
            assert len(axes) == 3  # train/test share one
            for ax in axes:
                assert ax.get_ylabel().strip() and heading(ax).strip()
                assert ax.get_xlabel() == unit  # one row: every panel is the lowest of its column
            assert heading(axes[1]) == "overlap = mean(w * wstar)"
            assert axes[2].get_ylabel() == "gap"
            caption = fig._suptitle.get_text()
            for expected in ("toy", "DMFT (exact)", "lr = 0.1", "lam = 0.05", "seed = 0"):
                assert expected in caption
            assert_readable(fig)
        finally:
            plot.plt.close(fig)


def test_plot_train_and_test_share_an_axis():
    fig = plot.observables_figure([toy()])
    try:
        ax = panel_axes(fig)[0]
        assert [line.get_label() for line in ax.get_lines()] == ["train_loss", "test_loss"]
        assert ax.get_ylabel() == "loss"
        styles = [line.get_linestyle() for line in ax.get_lines()]
        assert styles[0] != styles[1]  # told apart in black and white too
        assert heading(ax) == "train_loss = train(loss) test_loss = test(loss)"
        assert ax.get_legend().get_bbox_to_anchor().y0 >= ax.bbox.y1 - 1  # above the data
    finally:
        plot.plt.close(fig)


def test_plot_bands_where_sem():
    simulation = toy("simulation", sem=True, dim=200, runs=10)
    monte_carlo = toy("dmft", sem=True, mode="monte-carlo", samples=4000)  # Monte-Carlo DMFT with <name>_sem
    for ds in (simulation, monte_carlo):
        fig = plot.observables_figure([ds])
        try:
            axes = panel_axes(fig)
            assert [len(bands(ax)) for ax in axes] == [2, 1, 1]
            top = bands(axes[1])[0].get_paths()[0].vertices[:, 1].max()
            assert top == pytest.approx((ds["overlap"] + ds["overlap_sem"]).max())  # mean + 1 s.e.
            assert "mean ± 1 s.e." in fig._suptitle.get_text()
            assert_readable(fig)
        finally:
            plot.plt.close(fig)
    fig = plot.observables_figure([toy()])
    try:
        assert not any(bands(ax) for ax in panel_axes(fig))
    finally:
        plot.plt.close(fig)


def test_plot_compare_overlay():
    fig = plot.observables_figure(
        [toy("dmft", mode="exact"), toy("simulation", sem=True, shift=0.01, dim=200, runs=10)], labels=["a", "b"]
    )
    try:
        axes = panel_axes(fig)
        assert [len(bands(ax)) for ax in axes] == [2, 1, 1]  # the simulation's, in every panel
        assert all(len(ax.get_lines()) == 2 * (2 if index == 0 else 1) for index, ax in enumerate(axes))
        (legend,) = fig.legends
        assert [t.get_text() for t in legend.get_texts()] == ["a", "b, mean ± 1 s.e."]
        assert "toy" in fig._suptitle.get_text() and "lr = 0.1" in fig._suptitle.get_text()
        assert_readable(fig)
    finally:
        plot.plt.close(fig)


def test_plot_log_axis_for_decades():
    ds = toy(flow=False)
    ds["gap"] = ("step", np.exp(-ds["time"].values))  # e^-20: eight decades
    fig = plot.observables_figure([ds])
    try:
        scales = [ax.get_yscale() for ax in panel_axes(fig)]
        assert scales == ["linear", "linear", "log"]
    finally:
        plot.plt.close(fig)


@pytest.mark.parametrize("count", range(1, 9))
def test_plot_layout_one_to_eight_panels(count):
    observables = {f"quantity_{i}": np.exp(-TIME * (i + 1)) + i for i in range(count)}
    ds = results.make_dataset(observables, TIME, attrs=attributes("dmft", mode="exact"))
    fig = plot.observables_figure([ds])
    try:
        assert len(panel_axes(fig)) == count
        assert fig.get_figwidth() == (plot.SINGLE_COLUMN if count == 1 else plot.DOUBLE_COLUMN)
        lowest = {}  # column -> the row of its lowest panel
        for ax in panel_axes(fig):
            spec = ax.get_subplotspec()
            lowest[spec.colspan.start] = max(lowest.get(spec.colspan.start, 0), spec.rowspan.start)
        for ax in panel_axes(fig):
            spec = ax.get_subplotspec()
            assert bool(ax.get_xlabel()) == (spec.rowspan.start == lowest[spec.colspan.start])
        assert_readable(fig)
    finally:
        plot.plt.close(fig)


def test_plot_two_time_labels():
    fig = plot.two_time_figure(theory(), "R")
    try:
        ax, bar = fig.axes
        assert ax.get_xlabel() == "time s = step·dt (dt = 0.1)" and ax.get_ylabel() == "time t = step·dt (dt = 0.1)"
        assert bar.get_ylabel() == "R(t, s)"
        assert "R(t, s)" in ax.get_title(loc="left")
        assert "grey: s ≥ t" in fig._suptitle.get_text()  # the zeros on and above the diagonal: left out
        drawn = np.ma.masked_invalid(ax.collections[0].get_array())
        assert 0 < np.ma.count_masked(drawn) < drawn.size
        assert_readable(fig)
    finally:
        plot.plt.close(fig)


def test_plot_sweep_curves():
    fig = plot.sweep_figure(toy_sweep({"lr": [0.1, 0.2, 0.4]}, failed=(2,)))
    try:
        axes = panel_axes(fig)
        assert len(axes) == 2 and len(axes[0].get_lines()) == 6  # train and test, three values each
        assert axes[0].get_ylabel() == "loss" and axes[0].get_xlabel() == "step"
        (legend,) = fig.legends
        assert [t.get_text() for t in legend.get_texts()] == ["lr = 0.1", "lr = 0.2", "lr = 0.4 (failed)"]
        caption = fig._suptitle.get_text()
        assert "sweep over lr (3 values)" in caption and "sigma = 0.3" in caption and "1 failed" in caption
        assert_readable(fig)
    finally:
        plot.plt.close(fig)


def test_plot_phase_diagram():
    fig = plot.sweep_figure(toy_sweep({"lr": [0.05, 0.1, 0.2, 0.4], "lam": [0.01, 0.1, 1.0]}, failed=((0, 1),)))
    try:
        axes = panel_axes(fig)
        assert len(axes) == 3
        bars = [ax for ax in visible_axes(fig) if ax.get_label() == "<colorbar>"]
        assert [bar.get_ylabel() for bar in bars] == [
            f"{name} at step {STEPS}" for name in ("train_loss", "test_loss", "overlap")
        ]
        assert all(ax.get_ylabel() == "lam" and heading(ax) for ax in axes)
        assert axes[0].get_xscale() == "log"  # 0.05, 0.1, 0.2, 0.4: even in the logarithm
        assert "marked ×" in fig._suptitle.get_text()
        assert_readable(fig)
    finally:
        plot.plt.close(fig)


# comparisons


def test_compare_z_and_last_step():
    rows = agreement.compare_datasets(theory(), experiment(shift=-0.1))
    loss = [row for row in rows if row.observable == "loss"]
    assert len(loss) == len(TIME)  # every common time is judged
    assert loss[0].time == 0.0
    assert loss[-1].time == pytest.approx(TIME[-1])
    for row in rows:  # a - b = 0.1, sem_a absent, sem_b = 0.05
        assert row.difference == pytest.approx(0.1)
        assert row.z == pytest.approx(2.0)


def test_compare_without_sem_has_no_z():
    rows = agreement.compare_datasets(theory(), theory())
    assert all(row.z is None and row.difference == 0 for row in rows)


def test_compare_matches_times_within_tolerance():
    shifted = experiment().assign_coords(time=("step", TIME * (1 + 1e-12)))
    assert agreement.compare_datasets(theory(), shifted)


def test_compare_mismatched_times():
    later = experiment().assign_coords(time=("step", TIME + 100.0))
    with pytest.raises(DmftcError, match="no time in common"):
        agreement.compare_datasets(theory(), later)


def test_compare_no_common_observable():
    other = results.make_dataset({"energy": np.ones_like(TIME)}, TIME)
    with pytest.raises(DmftcError, match="no observable in common"):
        agreement.compare_datasets(theory(), other)


# commands


@pytest.fixture
def result_files(tmp_path):
    files = tmp_path / "theory.nc", tmp_path / "experiment.nc"
    results.write(theory(), files[0])
    results.write(experiment(shift=-0.1), files[1])
    return files


def test_cli_plot(result_files, tmp_path):
    out = tmp_path / "both.png"
    result = runner.invoke(app, ["plot", *map(str, result_files), "-o", str(out), "--var", "loss"])
    assert result.exit_code == 0, result.output
    assert_png(out)
    heat = tmp_path / "C.png"
    result = runner.invoke(app, ["plot", str(result_files[0]), "-o", str(heat), "--two-time", "C"])
    assert result.exit_code == 0, result.output
    assert_png(heat)


def test_cli_plot_errors(result_files, tmp_path):
    result = runner.invoke(app, ["plot", *map(str, result_files), "-o", str(tmp_path / "x.png"), "--two-time", "C"])
    assert result.exit_code == 2
    assert "one file" in result.output
    result = runner.invoke(app, ["plot", str(tmp_path / "missing.nc"), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "no such file" in result.output and "Traceback" not in result.output


def test_cli_compare(result_files, tmp_path):
    out = tmp_path / "overlay.png"
    result = runner.invoke(app, ["compare", *map(str, result_files), "--plot", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long lines
    for expected in ("a: dmft", "b: simulation", "+2.00", "loss: max |z| = 2.00", "within the limit"):
        assert expected in text
    assert_png(out)
