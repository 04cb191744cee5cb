"""Speed and memory of the gaussian_data solver (issue targets in parentheses).

    python benchmarks/bench_data.py            # writes benchmarks/results_data.md

Cases: logistic GD, T = 50, M = 20 000 samples per side, warm cache (< 3 s); exact mode on ridge,
T = 1000 (< 10 s) and T = 2000 (must fit in memory); cold compile (< 20 s). Each case runs in a
fresh process so that peak memory (max RSS) and cold compile times are its own.
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
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main():
    cases = [
        ("logistic GD, Monte Carlo, T = 50, M = 20000", "logistic_gd", dict(steps=50, samples=20000), "< 3 s run"),
        ("ridge GD, exact, T = 1000", "ridge_gd", dict(steps=1000, mode="exact"), "< 10 s run"),
        ("ridge GD, exact, T = 2000", "ridge_gd", dict(steps=2000, mode="exact"), "fits in memory"),
        ("Adam, Monte Carlo, T = 200, M = 20000", "adam_logistic", dict(steps=200, samples=20000), ""),
        ("SGD (batch fraction), T = 200, M = 20000", "sgd_logistic", dict(steps=200, samples=20000), ""),
        ("diagonal network, T = 200, M = 20000", "diagonal_network", dict(steps=200, samples=20000), ""),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as warm_cache:
        for title, model, options, target in cases:
            with tempfile.TemporaryDirectory() as cold_cache:
                cold = run_case(model, dict(options, steps=2), cold_cache)
            run_case(model, options, warm_cache)  # warm the cache
            warm = run_case(model, options, warm_cache)
            rows.append((title, target, warm["run"], warm["total"], cold["compile"], warm["rss_mib"]))
            print(f"{title}: run {warm['run']:.2f} s, total {warm['total']:.2f} s, cold compile "
                  f"{cold['compile']:.1f} s, peak memory {warm['rss_mib']:.0f} MiB", flush=True)
    lines = [
        "# gaussian_data solver benchmarks",
        "",
        f"Machine: {machine()}. Command: `python benchmarks/bench_data.py`.",
        "Warm: the generated module is in the cache (second process); cold compile: empty cache.",
        "Run = the forward pass; total = derive + render + load + compile check + run, in-process.",
        "",
        "| case | target | run (s) | total (s) | cold compile (s) | peak memory (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {t} | {g} | {r:.2f} | {tot:.2f} | {c:.1f} | {mem:.0f} |" for t, g, r, tot, c, mem in rows]
    (HERE / "results_data.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
