"""Parameter sweeps on Dask: grids, the layout of the result, failures, resuming, CLI and plots."""

import json
import time

import matplotlib.image
import numba
import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from typer.testing import CliRunner

import dmftc
from dmftc.cli import app
from dmftc.errors import DmftcError, ParameterError
from dmftc.results import dataset as results
from dmftc.results import sweep

from .conftest import ROOT

runner = CliRunner()
LOGISTIC = str(ROOT / "models" / "logistic_gd.dmft")
SMALL = dict(steps=5, samples=200)  # a few hundredths of a second of solving per point
# lr = 1e20 makes logistic_gd's ridge term multiply w by 1 - lr lam = -1e19 a step: its values grow
# past 1e50 (the divergence threshold; C_θ ~ w²) at step 2 (SolverError "diverges"). The logistic loss itself
# cannot blow up: its gradient is bounded (generated code evaluates it without overflow).
DIVERGING_LR = 1e20
# A warm solve of logistic_gd loads its compiled solver from the cache in 0.1-1.3 s (measured on
# the 2-core machine under load); a cold compile takes 10-36 s. A point whose compile time is
# above 5 s was compiled again, not loaded.
WARM_COMPILE_S = 5.0
# Empty panels (frames, ticks, titles) ink about 3% of a figure's pixels; the curves and heat
# maps drawn here ink 13-60% (measured). More than 6% means that something was drawn.
DRAWN_INK = 0.06


@pytest.fixture(scope="module")
def client():
    """A two-worker local cluster shared by the tests of this file."""
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster, set_as_default=False) as shared,
    ):
        yield shared


def _ink(path) -> float:
    """The fraction of a PNG's pixels that are not white."""
    rgb = matplotlib.image.imread(path)[..., :3]
    return float((rgb < 0.99).any(axis=-1).mean())


def test_parse_values():
    assert sweep.parse_values("alpha", "0.5:4:8") == list(np.linspace(0.5, 4, 8))
    assert sweep.parse_values("alpha", "1:0:3") == [1.0, 0.5, 0.0]
    assert sweep.parse_values("lam", "0.01,0.1,1") == [0.01, 0.1, 1.0]
    assert sweep.parse_values("lr", "0.2") == 0.2
    for text in ("1:2", "1:2:1", "1:2:x", "1,,2", "0.1,", "x", "1:2:3:4"):
        with pytest.raises(ParameterError, match="parameter 'alpha'"):
            sweep.parse_values("alpha", text)


def test_grid_errors_name_the_parameter():
    model = dmftc.load(LOGISTIC)
    with pytest.raises(ParameterError, match="unknown parameter 'alph'"):
        model.sweep({"alph": [1, 2]}, **SMALL)
    with pytest.raises(ParameterError, match="parameter 'lam' has a value twice"):
        model.sweep({"alpha": [1, 2], "lam": [0.1, 0.1]}, **SMALL)
    with pytest.raises(ParameterError, match="parameter 'alpha' must be finite"):
        model.sweep({"alpha": [1, np.nan]}, **SMALL)
    with pytest.raises(ParameterError, match="parameter 'lam' needs numbers"):
        model.sweep({"lam": ["a", "b"]}, **SMALL)
    with pytest.raises(ParameterError, match="nothing to sweep"):
        model.sweep({"alpha": 2.0}, **SMALL)
    with pytest.raises(TypeError, match="sample"):
        model.sweep({"alpha": [1, 2]}, sample=10)


def test_64_points_on_a_local_cluster():
    model = dmftc.load(LOGISTIC)
    alphas, lams = np.linspace(0.5, 4, 8), np.geomspace(0.01, 1, 8)
    started = time.perf_counter()
    ds = model.sweep({"alpha": alphas, "lam": lams, "lr": 0.4}, **SMALL)  # a cluster of its own
    print(f"64-point sweep: {time.perf_counter() - started:.1f} s")
    assert ds["train_loss"].dims == ("alpha", "lam", "step")
    assert ds["C_theta"].dims == ("alpha", "lam", "step", "step2")
    assert ds["status"].dims == ("alpha", "lam") and (ds["status"] == "ok").all()
    np.testing.assert_array_equal(ds["alpha"], alphas)
    np.testing.assert_array_equal(ds["lam"], lams)
    assert json.loads(ds.attrs["sweep_dims"]) == ["alpha", "lam"]
    assert ds.attrs["param_lr"] == 0.4 and "param_alpha" not in ds.attrs
    assert ds.attrs["samples"] == 256 and ds.attrs["steps"] == 5  # 4 replicas of 64 (a power of 2)
    assert np.isfinite(ds["test_loss"]).all()
    # compiled once, before submitting: every worker loaded it from the shared cache
    assert ds["time_compile_s"].max() < WARM_COMPILE_S, ds["time_compile_s"].values
    # a point is the solve of its parameters: same seed, same compiled code, one thread; the
    # BLAS matrix-vector products of the generated code may add in another order in another
    # process (array alignment), so the two agree to rounding (1e-18 absolute seen), not bitwise
    numba.set_num_threads(1)  # as on the workers: parallel sums over samples add in one order
    try:
        alone = dmftc.load(LOGISTIC, alpha=alphas[3], lam=lams[5], lr=0.4).solve(**SMALL)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for name in ("test_loss", "overlap", "C_theta", "R_g"):
        np.testing.assert_allclose(ds[name].isel(alpha=3, lam=5), alone[name], rtol=1e-12, atol=1e-15)


def test_failing_points_are_recorded(client):
    ds = dmftc.load(LOGISTIC).sweep({"lr": [0.5, DIVERGING_LR], "alpha": [1.0, 2.0]}, client=client, **SMALL)
    assert ds["status"].dims == ("lr", "alpha")
    assert list(ds["status"].sel(lr=0.5).values) == ["ok", "ok"]
    assert list(ds["status"].sel(lr=DIVERGING_LR).values) == ["failed", "failed"]
    for message in ds["error"].sel(lr=DIVERGING_LR).values:
        assert "diverges" in message and "step 2" in message
    assert (ds["error"].sel(lr=0.5) == "").all()
    assert np.isnan(ds["test_loss"].sel(lr=DIVERGING_LR)).all()
    assert np.isfinite(ds["test_loss"].sel(lr=0.5)).all()
    failed = json.loads(ds["parameters"].sel(lr=DIVERGING_LR, alpha=2.0).item())
    assert failed["lr"] == DIVERGING_LR and failed["alpha"] == 2.0


def test_interrupted_sweep_resumes_without_solving_finished_points(client, tmp_path, monkeypatch):
    output, parts = tmp_path / "sweep.nc", tmp_path / "sweep.nc.parts"
    grid = {"alpha": [1.0, 2.0, 3.0, 4.0], "lam": [0.01, 0.1, 1.0, 10.0]}
    model = dmftc.load(LOGISTIC)
    save_part = sweep._save_part

    def interrupted(*args):  # Ctrl-C once the first points are saved
        save_part(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "_save_part", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.sweep(grid, client=client, output=output, **SMALL)
    monkeypatch.undo()
    assert not output.exists()
    (saved,) = [xr.load_dataset(path) for path in parts.glob("*.nc")]
    assert 1 <= saved.sizes["point"] < 16

    submitted = []
    solve_all = sweep._solve_all

    def counted(dask_client, analysed, points, options):
        submitted.extend(points)
        yield from solve_all(dask_client, analysed, points, options)

    monkeypatch.setattr(sweep, "_solve_all", counted)
    ds = model.sweep(grid, client=client, output=output, **SMALL)
    assert len(submitted) == 16 - saved.sizes["point"]
    assert not parts.exists()
    assert (ds["status"] == "ok").all()
    for index in range(saved.sizes["point"]):  # as solved the first time: same stamp and timings
        first = saved.isel(point=index)
        params = json.loads(first["parameters"].item())
        point = ds.sel(alpha=params["alpha"], lam=params["lam"])
        for name in ("created", "time_compile_s", "time_run_s"):
            assert point[name].item() == first[name].item()
        np.testing.assert_array_equal(point["test_loss"], first["test_loss"])

    submitted.clear()
    again = model.sweep(grid, client=client, output=output, **SMALL)  # all there: nothing to solve
    assert submitted == []
    xr.testing.assert_identical(again, xr.load_dataset(output))


def test_resuming_refuses_another_sweep(client, tmp_path):
    output = tmp_path / "sweep.nc"
    model = dmftc.load(LOGISTIC)
    model.sweep({"alpha": [1.0, 2.0]}, client=client, output=output, **SMALL)
    with pytest.raises(DmftcError, match="other options"):
        model.sweep({"alpha": [1.0, 2.0]}, client=client, output=output, steps=6, samples=200)
    ridge = dmftc.load(ROOT / "models" / "ridge_gd.dmft")
    with pytest.raises(DmftcError, match="another model"):
        ridge.sweep({"alpha": [1.0, 2.0]}, client=client, output=output, **SMALL)
    single = tmp_path / "single.nc"
    results.write(model.solve(**SMALL), single)
    with pytest.raises(DmftcError, match="is not a sweep"):
        model.sweep({"alpha": [1.0, 2.0]}, client=client, output=single, **SMALL)


def test_cli_sweep_and_plots(client, tmp_path):
    output, png = tmp_path / "sweep.nc", tmp_path / "sweep.png"
    result = runner.invoke(
        app,
        [
            "sweep",
            LOGISTIC,
            "-p",
            "alpha=1:3:3",
            "-p",
            f"lr=0.5,{DIVERGING_LR:g}",
            "-p",
            "lam=0.05",
            "--steps",
            "4",
            "--samples",
            "100",
            "--scheduler",
            client.scheduler.address,
            "-o",
            str(output),
            "--plot",
            str(png),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "over alpha (3) × lr (2): 3 solved, 3 failed" in result.output
    assert "diverges" in result.output
    ds = xr.open_dataset(output)
    assert ds["test_loss"].dims == ("alpha", "lr", "step") and ds.sizes["step"] == 5
    # 100 samples in 4 replicas of 32 (quasi-random inputs: a power of 2 per replica)
    assert ds.attrs["param_lam"] == 0.05 and ds.attrs["samples"] == 128
    ds.close()
    assert _ink(png) > DRAWN_INK

    drawn = [
        ("heat.png", []),
        ("step.png", ["--at-step", "2", "--var", "test_loss"]),
        ("curves.png", ["--select", "lr=0.5"]),
        ("point.png", ["--select", "lr=0.5", "--select", "alpha=2", "--two-time", "C_theta"]),
    ]
    for name, options in drawn:
        result = runner.invoke(app, ["plot", str(output), "-o", str(tmp_path / name), *options])
        assert result.exit_code == 0, result.output
        assert _ink(tmp_path / name) > DRAWN_INK, name

    refused = [
        (["--at-step", "9"], "no step 9"),
        (["--select", "lam=1"], "'lam' is not a swept parameter"),
        (["--select", "lr=x"], "--select lr needs a number"),
        (["--select", "lr=0.5", "--at-step", "2"], "--at-step is for heat maps"),
        (["--two-time", "C_theta"], "fix every swept parameter"),
        (["--var", "loss"], "unknown observable"),
    ]
    for options, message in refused:
        result = runner.invoke(app, ["plot", str(output), "-o", str(tmp_path / "x.png"), *options])
        assert result.exit_code == 2 and message in result.output, (options, result.output)


def test_cli_sweep_errors(tmp_path):
    cases = [
        (["-p", "alph=1:2:3"], "unknown parameter 'alph'"),
        (["-p", "alpha=1:2"], "parameter 'alpha': expected"),
        (["-p", "lam=0.1,x"], "parameter 'lam': expected"),
        (["-p", "alpha=1,2", "-p", "alpha=3,4"], "parameter 'alpha' is set twice"),
        (["-p", "alpha=2"], "nothing to sweep"),
        (["-p", "alpha=1,2", "--scheduler", "nonsense"], "cannot reach the Dask scheduler"),
        (["-p", "alpha=1,2", "-o", str(tmp_path / "no" / "such.nc")], "does not exist"),
    ]
    for options, message in cases:
        result = runner.invoke(app, ["sweep", LOGISTIC, *options, "--steps", "2", "-q"])
        assert result.exit_code == 2 and message in result.output, (options, result.output)


def test_a_matrix_program_sweeps_like_any_model(client):
    # the random network over g: each point equals its own solve (the Gaussian closure is
    # deterministic), and the chaotic point stays active while the quiet one decays
    m = dmftc.load("scs_network")
    ds = m.sweep({"g": [0.5, 1.5]}, client=client, steps=30)
    for g in (0.5, 1.5):
        alone = dmftc.load("scs_network", g=g).solve(steps=30)
        np.testing.assert_array_equal(ds.variance.sel(g=g).values, alone.variance.values)
    assert ds.variance.sel(g=1.5).values[-1] > 10 * ds.variance.sel(g=0.5).values[-1]
