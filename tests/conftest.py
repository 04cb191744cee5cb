import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "models").glob("*.dmft"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Generated solvers go to a per-run cache, never to the user's."""
    os.environ.setdefault("DMFTC_CACHE_DIR", str(tmp_path_factory.mktemp("dmftc-cache")))
    os.environ.setdefault("MPLBACKEND", "Agg")
