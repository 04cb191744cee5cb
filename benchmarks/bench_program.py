"""Speed of the matrix_program solvers, next to the finite-size simulation of the same file.

    python benchmarks/bench_program.py          # ~3 min; writes benchmarks/results_program.md

Cases: the Sompolinsky–Crisanti–Sommers network at g = 1.5 (models/scs_network.dmft), T = 1000
steps, by the Gaussian closure (exact) and by the Monte-Carlo pass with M = 20000 samples (4
replicas); the random-features drive (models/nonhermitian_drive.dmft), 400 steps of dt = 0.05,
by the exact closure; GD on a power-law spectrum (models/powerlaw_gd.dmft), 300 steps, by the
exact closure over site classes; power-law random features trained by one-pass SGD
(models/plrf_sgd.dmft), 400 steps, by the exact closure over site classes. Each DMFT row stands
next to the simulation: its time per run at the given N, the run-to-run spread of the last
value, and the runs (and time) that reach the DMFT's own standard error (for an exact DMFT, the
error of the Monte-Carlo row, as a comparable target).
Every case runs in a fresh process with a warm cache (compile time excluded, reported apart).
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
import json, resource, time, numpy as np, dmftc
m = dmftc.load({model!r})
started = time.perf_counter()
ds = getattr(m, {command!r})(**{options!r})
total = time.perf_counter() - started
name = {observable!r}
sem = float(ds[name + "_sem"].values[-1]) if name + "_sem" in ds else 0.0
print(json.dumps(dict(run=ds.attrs["time_run_s"], total=total, final=float(ds[name].values[-1]), sem=sem,
                      rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def run_case(model: str, command: str, options: dict, observable: str, cache: str) -> dict:
    code = CASE.format(model=str(MODELS / f"{model}.dmft"), command=command, options=options, observable=observable)
    env = dict(os.environ, DMFTC_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, nproc = {os.cpu_count()}, Python {platform.python_version()}, {platform.system()}"


def main():
    scs, drive = "scs_network", "nonhermitian_drive"
    cases = [
        ("SCS g = 1.5, Gaussian closure, T = 1000", scs, "solve", dict(steps=1000), "variance"),
        ("SCS g = 1.5, Monte Carlo, M = 20000 (4 replicas), T = 1000", scs, "solve",
         dict(steps=1000, mode="monte-carlo", samples=20000, replicas=4), "variance"),
        ("SCS g = 1.5, simulation N = 2000, 8 runs, T = 1000", scs, "simulate",
         dict(steps=1000, dim=2000, runs=8), "variance"),
        ("random-features drive, exact closure, 400 steps of dt = 0.05", drive, "solve",
         dict(steps=400, dt=0.05), "loss"),
        ("random-features drive, simulation N = 1000, 8 runs", drive, "simulate",
         dict(steps=400, dt=0.05, dim=1000, runs=8), "loss"),
        ("power-law GD, exact over 144 site classes, T = 300", "powerlaw_gd", "solve",
         dict(steps=300), "test_loss"),
        ("power-law GD, simulation d = 2000, 8 runs, T = 300", "powerlaw_gd", "simulate",
         dict(steps=300, dim=2000, runs=8), "test_loss"),
        ("power-law random features, one-pass SGD, exact over 144 site classes, T = 400", "plrf_sgd", "solve",
         dict(steps=400), "test_loss"),
    ]  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for title, model, command, options, observable in cases:
            run_case(
                model, command, dict(options, steps=2) | ({"runs": 1} if "runs" in options else {}), observable, cache
            )
            result = run_case(model, command, options, observable, cache)
            results.append((title, options, result))
            print(f"{title}: {json.dumps(result)}", flush=True)
    load = os.getloadavg()
    mc = results[1][2]
    lines = [
        "# matrix_program benchmarks",
        "",
        f"Machine: {machine()}. Command: `python benchmarks/bench_program.py`.",
        f"Load average (1, 5, 15 min) at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
        "(the machine is shared: a load above nproc slows every case).",
        "Warm cache; run = the solver or the simulation alone, total = in-process wall time (load, derive, solve).",
        "For a simulation, 'runs to match' is the number of runs whose standard error equals the DMFT's "
        f"(the Monte-Carlo row's {mc['sem']:.2g} for SCS; for the exact random-features drive, the same relative "
        "error), and 'time to match' their time.",
        "",
        "| case | run (s) | total (s) | peak memory (MiB) | last value | s.e. | runs to match | time to match (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for title, options, r in results:
        match = time_match = ""
        if "runs" in options:
            spread = r["sem"] * options["runs"] ** 0.5  # one run's standard deviation
            target = mc["sem"] if "SCS" in title else mc["sem"] / mc["final"] * r["final"]  # same relative error
            runs = max(1, round((spread / target) ** 2)) if target > 0 else 0
            match, time_match = str(runs), f"{r['run'] / options['runs'] * runs:.1f}"
        lines.append(
            f"| {title} | {r['run']:.2f} | {r['total']:.2f} | {r['rss_mib']:.0f} | {r['final']:.5g} | "
            f"{r['sem']:.2g} | {match} | {time_match} |"
        )
    (HERE / "results_program.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
