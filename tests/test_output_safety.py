"""Output files: nothing is lost or replaced by mistake, and bad paths are refused before any work.

Sweeps into an existing file join its grid (or are refused); -o never replaces the model, a
directory, a device or pipe, or (without --force) a file that is not a dmftc result; killed writes
leave no temporary file for long; a full disk, an unwritable path and files that are not results
give located errors, never a traceback.
"""

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import dmftc.api
from dmftc.cli import app
from dmftc.errors import DmftcError
from dmftc.results import dataset as results
from dmftc.results import sweep

from .conftest import ROOT

runner = CliRunner()
RIDGE = ROOT / "models" / "ridge_gd.dmft"
QUICK = ["--steps", "3", "-q"]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the command if it gets as far as loading the model: the paths must be checked first."""

    def load(*args, **kwargs):
        raise AssertionError("the model was loaded before the output paths were checked")

    monkeypatch.setattr(dmftc.api, "load", load)


def refused(args: list, *messages: str) -> None:
    """The command exits with status 2 and the messages, no traceback."""
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for message in messages:
        assert message in " ".join(result.output.split()), result.output


def small_result() -> xr.Dataset:
    time = np.arange(4.0)
    return results.make_dataset(
        {"loss": 1 / (1 + time)},
        time,
        two_time={"C": np.outer(time, time)},
        attrs={"kind": "dmft", "model": "toy", "content_hash": "0" * 64},
    )


def parts_of(path) -> list[str]:
    return sorted(p.name for p in path.parent.glob(f".{path.name}.*.part"))


# issue 15, item 14 (a): a sweep into an existing file with another grid


@pytest.fixture
def solved(monkeypatch):
    """Sweeps solve their points here, one after the other (Dask is tested in test_sweep.py); the
    list of the points solved."""
    points = []

    def solve_all(client, compiled, todo, options):
        points.extend(todo)
        yield {sweep._key(point.params): point.solve(**options) for point in todo}

    monkeypatch.setattr(sweep, "_client", lambda client: contextlib.nullcontext())
    monkeypatch.setattr(sweep, "_prepare_workers", lambda client, compiled: None)
    monkeypatch.setattr(sweep, "_solve_all", solve_all)
    return points


def test_sweep_with_another_grid_joins_the_file(solved, tmp_path):
    output = tmp_path / "sweep.nc"
    command = ["sweep", str(RIDGE), "-o", str(output), *QUICK]
    assert runner.invoke(app, [*command, "-p", "lr=0.1,0.2"]).exit_code == 0
    first = xr.load_dataset(output)
    solved.clear()
    result = runner.invoke(app, [*command, "-p", "lr=0.4,0.3"])
    assert result.exit_code == 0, result.output
    assert "over lr (4): 4 solved" in result.output
    assert sorted(point.params["lr"] for point in solved) == [0.3, 0.4]
    joined = xr.load_dataset(output)
    assert joined["lr"].values.tolist() == [0.1, 0.2, 0.3, 0.4]
    # the points of the first run are kept as they were: stamps, timings, values
    xr.testing.assert_identical(joined.sel(lr=[0.1, 0.2]).drop_attrs(), first.drop_attrs())

    # joined grids with points neither solved nor asked for, or without the file's: refused, file untouched
    refused(
        [*command, "-p", "lr=0.5,0.6", "-p", "alpha=1,3"],
        "holds 4 point(s) of an earlier sweep that are not on this grid: writing it would drop them",
        "sweep the grid that holds both (-p lr=0.1,0.2,0.3,0.4,0.5,0.6 -p alpha=1.0,2.0,3.0)",
    )
    refused([*command, "-p", "alpha=1,3"], "holds 4 point(s)", "they differ in lr")
    xr.testing.assert_identical(xr.load_dataset(output), joined)


# item 14 (b): what -o and --plot may replace


def test_refuses_to_replace_the_model_a_directory_or_a_pipe(tmp_path, no_work):
    model = tmp_path / "ridge.dmft"
    shutil.copy(RIDGE, model)
    fifo, pipe = tmp_path / "fifo", tmp_path / "pipe.png"  # a device would be written as a pipe is
    os.mkfifo(fifo)
    os.mkfifo(pipe)
    for command in ("solve", "simulate", "sweep"):
        refused([command, model, "-o", model, *QUICK], "refusing to overwrite the model file")
    refused(["solve", model, "-o", tmp_path, *QUICK], "it is a directory")
    refused(["solve", model, "-o", fifo, *QUICK], "it is not a regular file")
    refused(["simulate", model, "--plot", pipe, *QUICK], "it is not a regular file")
    assert model.read_bytes() == RIDGE.read_bytes() and fifo.is_fifo() and pipe.is_fifo()


def test_a_file_that_is_not_a_result_needs_force(tmp_path):
    notes = tmp_path / "notes.nc"
    notes.write_text("my notes\n")
    refused(["solve", RIDGE, "-o", notes, *QUICK], "not a dmftc result", "pass --force")
    refused(["sweep", RIDGE, "-p", "lr=0.1,0.2", "-o", notes, *QUICK], "not a dmftc result")
    assert notes.read_text() == "my notes\n"
    result = runner.invoke(app, ["solve", str(RIDGE), "-o", str(notes), "--force", *QUICK])
    assert result.exit_code == 0, result.output
    assert results.is_result(notes)
    result = runner.invoke(app, ["solve", str(RIDGE), "-o", str(notes), "-p", "lr=0.1", *QUICK])  # a result: replaced
    assert result.exit_code == 0, result.output
    assert results.read(notes).attrs["param_lr"] == 0.1


# item 14 (c): temporary files


def test_stale_temporary_files_are_removed_and_failed_writes_leave_none(tmp_path, monkeypatch):
    path = tmp_path / "out.nc"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live = (path.with_name(f".out.nc.{pid}.part") for pid in (dead.pid, os.getppid()))
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written by another process")
    results.write(small_result(), path)
    assert parts_of(path) == [live.name]

    def interrupted(ds, target, **kwargs):
        target.write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        results.write(small_result(), path)
    assert parts_of(path) == [live.name] and results.is_result(path)


# item 20: checked before any work, and errors instead of tracebacks


def test_output_paths_are_checked_before_any_work(tmp_path, monkeypatch, no_work):
    refused(["solve", RIDGE, "-o", "/nonexistent/x.nc", *QUICK], "directory '/nonexistent' does not exist")
    refused(["sweep", RIDGE, "-p", "lr=0.1,0.2", "--plot", tmp_path / "no" / "x.png"], "does not exist")
    refused(["solve", RIDGE, "--plot", RIDGE, *QUICK], "not the name of an image file")
    refused(["simulate", RIDGE, "--plot", tmp_path / "x.dmft", *QUICK], "not the name of an image file")
    refused(["solve", RIDGE, "-o", tmp_path / "a.png", "--plot", tmp_path / "a.png"], "name the same file")

    def read_only(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(type(tmp_path), "touch", read_only)
    refused(["solve", RIDGE, "-o", tmp_path / "x.nc", *QUICK], "cannot write: Permission denied")


def test_plot_and_compare_refuse_paths_that_are_not_images(tmp_path):
    result = tmp_path / "result.nc"
    results.write(small_result(), result)
    refused(["plot", result, "-o", tmp_path / "plot.nc"], "not the name of an image file")
    refused(["compare", result, result, "--plot", result], "not the name of an image file")
    assert results.is_result(result)


def test_codegen_into_a_file_or_a_read_only_directory(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file\n")
    refused(["codegen", RIDGE, "-o", taken], "it is not a directory")
    refused(["codegen", RIDGE, "-o", taken / "below"], "cannot write into it")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        refused(["codegen", RIDGE, "-o", locked], "Permission denied")
        assert list(locked.iterdir()) == []


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
        # as h5py reports it when the file is closed
        RuntimeError("Can't decrement id ref count (file write failed: errno = 28, error message = '...')"),
    ],
)
def test_a_full_disk_is_an_error_and_leaves_the_earlier_file(tmp_path, monkeypatch, failure):
    output = tmp_path / "ridge.nc"
    results.write(small_result(), output)
    before = output.read_bytes()

    def full(ds, target, **kwargs):
        target.write_bytes(b"the first bytes")
        raise failure

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    refused(["solve", RIDGE, "-o", output, *QUICK], "cannot write: No space left on device")
    assert output.read_bytes() == before and parts_of(output) == []


def test_files_that_are_not_complete_results_are_named(tmp_path):
    good = tmp_path / "good.nc"
    results.write(small_result(), good)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:1000])
    damaged = tmp_path / "damaged.nc"
    shutil.copy(good, damaged)
    with h5py.File(damaged, "a") as f:
        del f["step2"]  # a dimension scale that other variables refer to: h5py raises KeyError
    no_time2 = tmp_path / "no_time2.nc"
    xr.load_dataset(good).drop_vars("time2").to_netcdf(no_time2, engine=results.ENGINE)
    no_status = tmp_path / "no_status.nc"
    sweep = xr.concat([small_result()] * 2, dim="lr").assign_coords(lr=[0.1, 0.2])
    sweep.attrs["sweep_dims"] = json.dumps(["lr"])
    sweep.to_netcdf(no_status, engine=results.ENGINE)
    cases = [
        (truncated, "cannot read: not a netCDF file"),
        (damaged, "cannot read: not a netCDF file"),
        (no_time2, "the dimension 'step2' but no coordinate 'time2'"),
        (no_status, "without the variable 'status'"),
    ]
    for path, message in cases:
        refused(["compare", good, path], f"{path.name}: error:", message)
        refused(["plot", path, "-o", tmp_path / "x.png", "--two-time", "C"], f"{path.name}: error:", message)
    with pytest.raises(DmftcError, match="not a netCDF file"):
        results.read(damaged)
