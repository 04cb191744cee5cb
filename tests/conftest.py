import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "models").glob("*.dmft"))

# Generated solvers go to a test cache shared by the pytest-xdist workers (and kept between
# runs: files are named by the hash of their content, so a stale file is never reused), never
# to the user's cache. Numba's own cache lives beside the generated files.
os.environ.setdefault("DMFTC_CACHE_DIR", str(Path(tempfile.gettempdir()) / "dmftc-test-cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
# pytest-xdist runs one worker per core: numba's own threads (used by modules generated with
# DMFTC_PARALLEL=1) would oversubscribe the cores.
os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current code generation (review the diff)",
    )
