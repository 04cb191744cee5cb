"""Speed and memory of the gaussian_field solvers.

    python benchmarks/bench_field.py            # writes benchmarks/results_field.md

Cases: the exact discrete recursion at T = 2000 steps (projected GD on the pure 3-spin, heavy
ball and Nesterov on the spiked matrix-tensor model), the continuous-time equations on the
uniform grid (t = 100, dt = 0.05) and on the adaptive grid to t = 1e4 and 1e6 (target: minutes).
Each case runs in a fresh process so that its peak memory (max RSS) and cold compile are its own.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "models"

CASE = r"""
import json, resource, time, dmftc
m = dmftc.load({model!r})
started = time.perf_counter()
ds = m.solve(**{options!r})
total = time.perf_counter() - started
print(json.dumps(dict(compile=ds.attrs["time_compile_s"], run=ds.attrs["time_run_s"], total=total,
                      final=float(ds.energy.values[-1]), time=float(ds.time.values[-1]),
                      rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def run_case(model: str, options: dict, cache: str) -> dict:
    code = CASE.format(model=str(MODELS / f"{model}.dmft"), options=options)
    env = dict(os.environ, DMFTC_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, nproc = {os.cpu_count()}, Python {platform.python_version()}, {platform.system()}"


def main():
    cases = [
        ("pure 3-spin, projected GD, exact recursion, T = 2000", "pspin3_gd", dict(steps=2000), ""),
        ("spiked 2+3, heavy ball, exact recursion, T = 2000", "spiked_matrix_tensor_hb", dict(steps=2000), ""),
        ("spiked 2+3, Nesterov, exact recursion, T = 2000", "spiked_matrix_tensor_nesterov", dict(steps=2000), ""),
        ("pure 3-spin flow, uniform grid, dt = 0.05, t = 100", "pspin3_flow", dict(steps=2000, dt=0.05), ""),
        ("pure 3-spin flow, adaptive grid (window 512), t = 1e4", "pspin3_flow", dict(tmax=1e4), "a few minutes"),
        ("pure 3-spin flow, adaptive grid (window 512), t = 1e6", "pspin3_flow", dict(tmax=1e6), "minutes"),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as warm_cache:
        for title, model, options, target in cases:
            small = dict(options, tmax=1.0) if "tmax" in options else dict(options, steps=2)
            with tempfile.TemporaryDirectory() as cold_cache:
                cold = run_case(model, small, cold_cache)
            run_case(model, small, warm_cache)  # warm the cache
            warm = run_case(model, options, warm_cache)
            rows.append((title, target, warm, cold["compile"]))
            print(
                f"{title}: run {warm['run']:.2f} s, total {warm['total']:.2f} s, cold compile "
                f"{cold['compile']:.1f} s, peak memory {warm['rss_mib']:.0f} MiB, "
                f"e({warm['time']:g}) = {warm['final']:.6f}",
                flush=True,
            )
    lines = [
        "# gaussian_field solver benchmarks",
        "",
        f"Machine: {machine()}. Command: `python benchmarks/bench_field.py`.",
        "Load average (1, 5, 15 min) at the end: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        + " (the machine is shared: a load above nproc slows every case).",
        "Warm: the generated module is in the cache (second process); cold compile: empty cache",
        "(the continuous-time solver is plain numba in dmftc/ck_solver.py, cached by numba itself).",
        "Run = the solver; total = derive + render + load + compile check + run, in-process.",
        "",
        "| case | target | run (s) | total (s) | cold compile (s) | peak memory (MiB) | final energy |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {t} | {g} | {w['run']:.2f} | {w['total']:.2f} | {c:.1f} | {w['rss_mib']:.0f} | "
        f"e({w['time']:g}) = {w['final']:.6f} |"
        for t, g, w, c in rows
    ]
    (HERE / "results_field.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
