"""Sweeps against a separately started ``dask scheduler`` and ``dask worker`` on 127.0.0.1, and
a sweep process killed midway, then resumed. Slow: they start processes of their own."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from distributed import Client
from typer.testing import CliRunner

from dmftc.cli import app
from dmftc.results import sweep

from .conftest import ROOT

pytestmark = pytest.mark.slow

runner = CliRunner()
BIN = Path(sys.executable).parent
LOGISTIC = str(ROOT / "models" / "logistic_gd.dmft")
# Processes start in 2-10 s on the 2-core machine (more under load); a minute means they failed.
STARTUP_S = 60
# As in test_sweep.py: a point whose compile time exceeds 5 s compiled the solver instead of
# loading it (warm loads take 0.1-1.3 s, cold compiles 10-36 s).
WARM_COMPILE_S = 5.0


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {STARTUP_S} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A scheduler and one single-threaded worker over loopback, the worker started with a cache
    directory of its own (empty); yields a client and that directory. Both are stopped after."""
    tmp = tmp_path_factory.mktemp("dask")
    address_file, worker_cache = tmp / "scheduler.json", tmp / "worker-cache"
    worker_cache.mkdir()
    logs = open(tmp / "dask.log", "w")
    processes = []
    try:
        processes.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--dashboard-address",
                    "127.0.0.1:0",
                    "--scheduler-file",
                    address_file,
                ],
                stdout=logs,
                stderr=logs,
            )
        )
        _wait_for(address_file.exists, "scheduler file")
        address = json.loads(address_file.read_text())["address"]
        processes.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--dashboard-address",
                    "127.0.0.1:0",
                ],
                stdout=logs,
                stderr=logs,
                env=os.environ | {"DMFTC_CACHE_DIR": str(worker_cache)},
            )
        )
        with Client(address, timeout=f"{STARTUP_S}s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=STARTUP_S)
            yield client, worker_cache
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=STARTUP_S)
        logs.close()


def test_sweep_on_a_separate_scheduler_and_worker(scheduler, tmp_path):
    client, worker_cache = scheduler
    output = tmp_path / "sweep.nc"
    result = runner.invoke(
        app,
        [
            "sweep",
            LOGISTIC,
            "-p",
            "alpha=1:3:3",
            "-p",
            "lam=0.01,0.1",
            "--steps",
            "5",
            "--samples",
            "200",
            "--scheduler",
            client.scheduler.address,
            "-o",
            str(output),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    ds = xr.load_dataset(output)
    assert ds["test_loss"].dims == ("alpha", "lam", "step") and (ds["status"] == "ok").all()
    # the worker took this process's cache directory and loaded the solver compiled here
    assert set(client.run(os.environ.get, "DMFTC_CACHE_DIR").values()) == {os.environ["DMFTC_CACHE_DIR"]}
    assert not any(worker_cache.iterdir())
    assert ds["time_compile_s"].max() < WARM_COMPILE_S, ds["time_compile_s"].values


def test_killed_sweep_resumes_without_solving_finished_points(scheduler, tmp_path, monkeypatch):
    client, _ = scheduler
    output, parts = tmp_path / "sweep.nc", tmp_path / "sweep.nc.parts"
    # 24 points of about half a second each on one worker: the sweep is killed early
    command = [
        "sweep",
        LOGISTIC,
        "-p",
        "alpha=0.5:4:8",
        "-p",
        "lam=0.01,0.1,1",
        "--steps",
        "20",
        "--samples",
        "2000",
        "--scheduler",
        client.scheduler.address,
        "-o",
        str(output),
        "-q",
    ]
    process = subprocess.Popen([BIN / "dmftc", *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: parts.is_dir() and any(parts.glob("*.nc")), "saved points")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not output.exists()
    saved = [xr.load_dataset(path) for path in parts.glob("*.nc")]
    first = xr.concat(saved, dim="point", combine_attrs="drop") if len(saved) > 1 else saved[0]
    assert 1 <= first.sizes["point"] < 24

    submitted = []
    solve_all = sweep._solve_all

    def counted(dask_client, analysed, points, options):
        submitted.extend(points)
        yield from solve_all(dask_client, analysed, points, options)

    monkeypatch.setattr(sweep, "_solve_all", counted)
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert len(submitted) == 24 - first.sizes["point"]
    ds = xr.load_dataset(output)
    assert (ds["status"] == "ok").all() and not parts.exists()
    for index in range(first.sizes["point"]):  # as solved before the kill: same stamp and timings
        before = first.isel(point=index)
        params = json.loads(before["parameters"].item())
        point = ds.sel(alpha=params["alpha"], lam=params["lam"])
        for name in ("created", "time_compile_s", "time_run_s"):
            assert point[name].item() == before[name].item()
        np.testing.assert_array_equal(point["C_theta"], before["C_theta"])
