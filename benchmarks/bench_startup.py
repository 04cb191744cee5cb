"""Start-up: a cached model solved end to end in a new process.

    python benchmarks/bench_startup.py          # writes benchmarks/results_startup.md

The command is the README's, ``dmftc solve models/ridge_gd.dmft --steps 50 -o out.nc``, run
``REPEATS`` times in fresh processes after one run that fills the cache (generated module, numba
cache, lowered plan). Reported: the median wall time, and where a fresh process spends it
(python -X importtime for the imports, and the pipeline's stage timings).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "models" / "ridge_gd.dmft"
REPEATS = 7
STAGES = r"""
import json, time
t0 = time.perf_counter()
import dmftc
t1 = time.perf_counter()
m = dmftc.load({model!r})
t2 = time.perf_counter()
m.compiled.generated
t3 = time.perf_counter()
m.compiled.module
t4 = time.perf_counter()
import dmftc.classes.gaussian_data.solve
t5 = time.perf_counter()
ds = m.solve(steps=50)
t6 = time.perf_counter()
from dmftc.results.dataset import write
write(ds, {out!r})
t7 = time.perf_counter()
print(json.dumps({{"import dmftc (sympy, analysis, typer-free)": t1 - t0, "parse + analyse": t2 - t1,
                  "lowered plan (cache)": t3 - t2, "import the generated module (numba)": t4 - t3,
                  "import the solver (xarray)": t5 - t4, "solve (numba cache loads, xarray's first dataset)": t6 - t5,
                  "write netCDF": t7 - t6}}))
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DMFTC_CACHE_DIR=tmp)
        command = ["dmftc", "solve", str(MODEL), "--steps", "50", "-o", str(Path(tmp) / "out.nc"), "-q"]
        subprocess.run(command, env=env, check=True, capture_output=True)  # fills the caches
        walls = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            walls.append(time.perf_counter() - started)
        code = STAGES.format(model=str(MODEL), out=str(Path(tmp) / "stages.nc"))
        stages = json.loads(
            subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
            .stdout.strip()
            .splitlines()[-1]
        )
    load = os.getloadavg()
    lines = [
        "# Start-up: a cached model solved in a new process",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} when measured.",
        f"Command: `python benchmarks/bench_startup.py` ({time.strftime('%Y-%m-%d')}).",
        "",
        f"`dmftc solve models/ridge_gd.dmft --steps 50 -o out.nc`, warm cache, {REPEATS} fresh processes: "
        f"median **{statistics.median(walls):.2f} s** (min {min(walls):.2f} s, max {max(walls):.2f} s).",
        "",
        "Where one fresh process spends it (Python API, the same steps):",
        "",
        "| stage | seconds |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in stages.items()]
    (HERE / "results_startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
