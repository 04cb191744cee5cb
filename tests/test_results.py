"""Result datasets: layout, netCDF round trip, plots, comparisons, and the plot/compare commands."""

import json

import numpy as np
import pytest
import xarray as xr
from rich.console import Console
from typer.testing import CliRunner

from dmftc.cli import app
from dmftc.errors import DmftcError
from dmftc.results import compare, plot
from dmftc.results import dataset as results

STEPS = 20
TIME = 0.1 * np.arange(STEPS + 1)
SOURCE = "model toy\nparam lr = 0.1\n"
runner = CliRunner()


def attributes(kind: str, **settings) -> dict:
    return results.run_attributes(
        kind=kind,
        model_name="toy",
        model_path="models/toy.dmft",
        model_source=SOURCE,
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


# comparisons


def test_compare_z_and_last_step():
    rows = compare.compare_datasets(theory(), experiment(shift=-0.1))
    loss = [row for row in rows if row.observable == "loss"]
    assert 2 <= len(loss) <= 8
    assert loss[0].time == 0.0
    assert loss[-1].time == pytest.approx(TIME[-1])
    for row in rows:  # a - b = 0.1, sem_a absent, sem_b = 0.05
        assert row.difference == pytest.approx(0.1)
        assert row.z == pytest.approx(2.0)


def test_compare_without_sem_has_no_z():
    rows = compare.compare_datasets(theory(), theory())
    assert all(row.z is None and row.difference == 0 for row in rows)


def test_compare_matches_times_within_tolerance():
    shifted = experiment().assign_coords(time=("step", TIME * (1 + 1e-12)))
    assert compare.compare_datasets(theory(), shifted)


def test_compare_mismatched_times():
    later = experiment().assign_coords(time=("step", TIME + 100.0))
    with pytest.raises(DmftcError, match="no time in common"):
        compare.compare_datasets(theory(), later)


def test_compare_no_common_observable():
    other = results.make_dataset({"energy": np.ones_like(TIME)}, TIME)
    with pytest.raises(DmftcError, match="no observable in common"):
        compare.compare_datasets(theory(), other)


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
    for expected in ("a: dmft", "b: simulation", "+2.00", "loss: max |z| = 2.00, within 3 s.e."):
        assert expected in result.output
    assert_png(out)
