"""dmftc against the machine's limits, a plain NumPy implementation and the simulation.

    python benchmarks/bench_compare.py         # writes benchmarks/results_compare.md

Case: logistic regression with sign labels by GD (models/logistic_gd.dmft), T = 50 steps,
M = 20 000 samples per side, warm cache. Reported:

* the floating-point operations and bytes the forward pass must move (counted from the
  algorithm, below), the achieved GFLOP/s and GB/s, next to the machine's measured peak
  (dgemm on one core) and memory bandwidth (a large dot product on one core). The pass is a
  stream of matrix-vector products over the sample histories (two flops per 8-byte double), so
  its ceiling is bandwidth, not arithmetic;
* the run time of benchmarks/numpy_reference.py (the same equations in vectorised NumPy),
  measured in the same process as dmftc, the two interleaved, best of REPEATS (wall clock and
  CPU time: on a shared machine the CPU time is the steadier of the two). The load average
  before and after is part of the table;
* whether float32 samples would keep the accuracy: the same NumPy pass with every per-sample
  array (inputs, θ, g, Jacobian histories) in float32 and the small two-time matrices in
  float64, against the float64 pass on the same seed, next to the DMFT spread over seeds;
* the time the finite-size simulation (d = 2000) needs to reach the statistical error of one
  DMFT run on the final test loss, from measured spreads over seeds and runs.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import dmftc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from numpy_reference import logistic_gd_forward_pass  # noqa: E402

MODEL = HERE.parent / "models" / "logistic_gd.dmft"
T, M = 50, 20000
REPEATS = 5


def forward_pass_cost(T: int, M: int) -> tuple[float, float]:
    """Flops and bytes of the Monte-Carlo pass with Jacobian data responses and a deterministic
    parameter side, summed over steps t = 0..T (counts per step, M samples):
    correlations of θ and g: 2M(t+1) each; the fields ω, the memory sum, ν and the Onsager sum
    of the parameter side: 2M(t+2), 2Mt, 2M(t+1), 2M(t+1); the Jacobian recursion
    ∂g(t)/∂ω(s) = g'(h) (δ + Σ_{s≤r<t} R_θ(t,r) ∂g(r)/∂ω(s)): M t(t+1) flops over a history of
    M t(t+1)/2 doubles; about 60 M flops of exp/log and integrands. Bytes: every history row is
    read once per use (8 bytes a double)."""
    flops = bytes_ = 0.0
    for t in range(T + 1):
        streamed = (t + 1) + (t + 1) + (t + 2) + t + (t + 1) + (t + 1)  # rows read by the products
        flops += M * (2 * streamed + t * (t + 1) + 60)
        bytes_ += 8 * M * (streamed + t * (t + 1) / 2)
    return flops, bytes_


def machine_peak() -> tuple[float, float]:
    """dgemm GFLOP/s and streaming-read GB/s on one core (best of 3)."""
    with threadpool_limits(limits=1, user_api="blas"):
        a = np.random.default_rng(0).standard_normal((2000, 2000))
        a @ a
        x = np.ones(2**26)  # 512 MiB
        x @ x
        gemm, read = [], []
        for _ in range(3):
            started = time.perf_counter()
            a @ a
            gemm.append(time.perf_counter() - started)
            started = time.perf_counter()
            x @ x
            read.append(time.perf_counter() - started)
    return 2 * 2000**3 / min(gemm) / 1e9, x.nbytes / min(read) / 1e9


def main():
    m = dmftc.load(MODEL)
    m.solve(steps=2, samples=200)  # compile or load from the cache
    with threadpool_limits(limits=1, user_api="blas"):
        logistic_gd_forward_pass(T=3, M=200)
    load_before = os.getloadavg()
    # dmftc and the NumPy reference interleaved in one process, best of REPEATS (wall and CPU)
    runs, dmft_wall, dmft_cpu, numpy_wall, numpy_cpu = [], [], [], [], []
    for seed in range(REPEATS):
        cpu = time.process_time()
        runs.append(m.solve(steps=T, samples=M, seed=seed))
        dmft_cpu.append(time.process_time() - cpu)
        dmft_wall.append(runs[-1].attrs["time_run_s"])
        with threadpool_limits(limits=1, user_api="blas"):
            cpu, started = time.process_time(), time.perf_counter()
            reference_loss = logistic_gd_forward_pass(T=T, M=M)
            numpy_wall.append(time.perf_counter() - started)
            numpy_cpu.append(time.process_time() - cpu)
    load_after = os.getloadavg()
    dmft_time, numpy_time = min(dmft_wall), min(numpy_wall)
    dmft_spread = float(np.std([ds.test_loss.values[-1] for ds in runs], ddof=1))

    # float32 samples: the same pass, same seed, in both precisions
    with threadpool_limits(limits=1, user_api="blas"):
        single_wall, double_wall = [], []
        for _ in range(2):
            started = time.perf_counter()
            loss32 = logistic_gd_forward_pass(T=T, M=M, dtype=np.float32)
            single_wall.append(time.perf_counter() - started)
            started = time.perf_counter()
            loss64 = logistic_gd_forward_pass(T=T, M=M)
            double_wall.append(time.perf_counter() - started)
    float32_error = float(np.max(np.abs(loss32 - loss64)))

    sim = m.simulate(dim=2000, runs=6, steps=T)
    per_run = sim.attrs["time_run_s"] / sim.attrs["runs"]
    run_spread = float(sim.test_loss_sem.values[-1] * np.sqrt(sim.attrs["runs"]))
    runs_needed = max(1.0, (run_spread / dmft_spread) ** 2)

    flops, bytes_ = forward_pass_cost(T, M)
    peak_gflops, peak_gbs = machine_peak()
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "unknown CPU",
        )
        if Path("/proc/cpuinfo").exists()
        else "?"
    )
    rows = [
        (
            f"dmftc forward pass (run time, best of {REPEATS} seeds)",
            f"{dmft_time:.2f} s wall, {min(dmft_cpu):.2f} s CPU",
        ),
        ("work: flops / bytes moved", f"{flops / 1e9:.2f} GFLOP / {bytes_ / 1e9:.2f} GB"),
        ("achieved", f"{flops / dmft_time / 1e9:.2f} GFLOP/s, {bytes_ / dmft_time / 1e9:.1f} GB/s"),
        ("machine, one core: dgemm peak / streaming read", f"{peak_gflops:.1f} GFLOP/s / {peak_gbs:.1f} GB/s"),
        ("fraction of the bandwidth ceiling", f"{bytes_ / dmft_time / 1e9 / peak_gbs:.0%}"),
        (
            f"NumPy reference (benchmarks/numpy_reference.py, best of {REPEATS}, interleaved with dmftc)",
            f"{numpy_time:.2f} s wall ({numpy_time / dmft_time:.1f}x dmftc), "
            f"{min(numpy_cpu):.2f} s CPU ({min(numpy_cpu) / min(dmft_cpu):.1f}x dmftc)",
        ),
        ("test loss at T: dmftc / NumPy reference", f"{runs[0].test_loss.values[-1]:.4f} / {reference_loss[-1]:.4f}"),
        ("DMFT spread over seeds (test loss at T)", f"{dmft_spread:.2e}"),
        (
            "float32 samples: largest change of the test loss (same seed), run time float32 / float64",
            f"{float32_error:.1e} ({float32_error / dmft_spread:.0e} of the spread), "
            f"{min(single_wall):.2f} s / {min(double_wall):.2f} s",
        ),
        ("simulation d = 2000: spread over runs, time per run", f"{run_spread:.2e}, {per_run:.2f} s"),
        (
            "simulation runs for the DMFT's error, and their time",
            f"{runs_needed:.0f} runs, {runs_needed * per_run:.0f} s ({runs_needed * per_run / dmft_time:.0f}x dmftc)",
        ),
    ]
    lines = [
        "# dmftc against the machine, NumPy and the simulation",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}. "
        "Command: `python benchmarks/bench_compare.py`.",
        f"Case: models/logistic_gd.dmft, T = {T}, M = {M} samples per side, warm cache, "
        "NUMBA_NUM_THREADS=" + os.environ.get("NUMBA_NUM_THREADS", "(unset)") + ".",
        f"Load average (1, 5, 15 min) before / after the timed runs: "
        f"{', '.join(f'{x:.1f}' for x in load_before)} / {', '.join(f'{x:.1f}' for x in load_after)} "
        f"on {os.cpu_count()} cores (a shared machine: wall times are noisy, CPU times steadier).",
        "",
        "| quantity | value |",
        "| --- | --- |",
    ] + [f"| {a} | {b} |" for a, b in rows]
    (HERE / "results_compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
