"""Speed and memory of the gaussian_data solver (issue targets in parentheses).

    python benchmarks/bench_data.py            # writes benchmarks/results_data.md
    python benchmarks/bench_data.py spectral   # only the cases whose title contains "spectral"
    python benchmarks/bench_data.py coarse     # ... "coarse"

Cases: logistic GD, T = 50, M = 20 000 samples per side, warm cache (< 3 s); the exact closure on
ridge, T = 1000 (< 10 s) and T = 2000 (must fit in memory); the spectral solver on ridge and
heavy-ball ridge to T = 10⁴ (< 5 min) and on the ridge flow to t = 10⁴; logistic and ridge GD
to T = 10⁴ by Monte Carlo on a decimated history (< 5 min); cold compile (< 20 s).
Each case runs in a fresh process so that peak memory (max RSS) and cold compile times are its
own. With a filter, the rows of the cases run replace theirs in the table and the others are
kept.
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
m = dmftc.load({model!r}, **{params!r})
started, cpu = time.perf_counter(), time.process_time()
ds = m.solve(**{options!r})
total, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps(dict(compile=ds.attrs["time_compile_s"], run=ds.attrs["time_run_s"], total=total, cpu=cpu,
                      rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def run_case(model: str, options: dict, cache: str, params: dict | None = None) -> dict:
    code = CASE.format(model=str(MODELS / f"{model}.dmft"), options=options, params=params or {})
    env = dict(os.environ, DMFTC_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_text(load_before) -> str:
    return (
        f"load average (1, 5, 15 min) at the start / end: {', '.join(f'{x:.1f}' for x in load_before)} / "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
        f"{' (a shared machine: times are noisy)' if load_before[0] > 1 else ''}; "
        f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '(unset)')}"
    )


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main():
    cases = [
        ("logistic GD, Monte Carlo, T = 50, M = 20000", "logistic_gd", dict(steps=50, samples=20000), "< 3 s run"),
        ("ridge GD, exact, T = 1000", "ridge_gd", dict(steps=1000, method="dmft"), "< 10 s run"),
        ("ridge GD, exact, T = 2000", "ridge_gd", dict(steps=2000, method="dmft"), "fits in memory"),
        ("ridge GD, spectral, T = 2000", "ridge_gd", dict(steps=2000, method="spectral"), ""),
        ("ridge GD, spectral, T = 10000 (256 log-spaced steps)", "ridge_gd", dict(steps=10000), "< 5 min run"),
        ("heavy-ball ridge, spectral, T = 10000 (256 steps)", "ridge_heavy_ball", dict(steps=10000), "< 5 min run"),
        ("ridge flow, spectral, t = 10000 (10^6 steps of dt = 0.01)", "ridge_flow", dict(steps=10**6), "minutes"),
        # the Monte-Carlo pass on a decimated history (docs/math/gaussian_data.md §5.3)
        ("logistic GD, coarse, T = 10000 (256 steps), M = 4096", "logistic_gd", dict(steps=10000), "< 5 min run"),
        (
            "ridge GD, coarse, T = 10000 (256 steps), M = 4096",
            "ridge_gd",
            dict(steps=10000, mode="monte-carlo"),
            "< 5 min run",
        ),
        ("Adam, Monte Carlo, T = 200, M = 20000", "adam_logistic", dict(steps=200, samples=20000), ""),
        ("SGD (batch fraction), T = 200, M = 20000", "sgd_logistic", dict(steps=200, samples=20000), ""),
        # per-sample Jacobian histories on the first ~9900 samples (the memory budget, solve.py)
        ("diagonal network, T = 200, M = 20000", "diagonal_network", dict(steps=200, samples=20000), ""),
    ]
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    cases = [case for case in cases if only in case[0]]
    if not cases:
        sys.exit(f"no case has {only!r} in its title")
    params: dict[str, dict] = {}  # model parameters other than the file's, per model
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as warm_cache:
        for title, model, options, target in cases:
            with tempfile.TemporaryDirectory() as cold_cache:
                cold = run_case(model, dict(options, steps=2), cold_cache, params.get(model))
            run_case(model, options, warm_cache, params.get(model))  # warm the cache
            warm = run_case(model, options, warm_cache, params.get(model))
            rows.append((title, target, warm["run"], warm["total"], warm["cpu"], cold["compile"], warm["rss_mib"]))
            print(
                f"{title}: run {warm['run']:.2f} s, total {warm['total']:.2f} s ({warm['cpu']:.2f} s CPU), "
                f"cold compile {cold['compile']:.1f} s, peak memory {warm['rss_mib']:.0f} MiB",
                flush=True,
            )
    lines = [
        "# gaussian_data solver benchmarks",
        "",
        f"Machine: {machine()}. Command: `python benchmarks/bench_data.py`.",
        "Warm: the generated module is in the cache (second process); cold compile: empty cache.",
        "Run = the forward pass; total = derive + render + load + compile check + run, in-process",
        "(wall clock, and the CPU time of the same call: on a shared machine the steadier of the two).",
        f"{load_text(load_before).capitalize()}.",
        "",
        "| case | target | run (s) | total (s) | total CPU (s) | cold compile (s) | peak memory (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    table = {
        t: f"| {t} | {g} | {r:.2f} | {tot:.2f} | {cpu:.2f} | {c:.1f} | {mem:.0f} |"
        for t, g, r, tot, cpu, c, mem in rows
    }
    results = HERE / "results_data.md"
    notes: list[str] = []
    if only and results.exists():  # keep the header, the rows of the cases not run and the notes
        old = results.read_text().splitlines()
        body = [i for i, line in enumerate(old) if line.startswith("| ")]
        table = {line.split(" | ")[0][2:]: line for line in old[body[2] : body[-1] + 1]} | table
        lines = old[: body[0] + 2]
        command = f"`python benchmarks/bench_data.py {only}`"
        notes = "\n".join(line for line in old[body[-1] + 1 :] if command not in line).rstrip().splitlines()
        notes += [
            "",
            f"Rows {', '.join(repr(row[0]) for row in rows)}: measured by {command} on {machine()}, "
            f"{load_text(load_before)}.",
        ]
    lines += list(table.values()) + notes
    results.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
