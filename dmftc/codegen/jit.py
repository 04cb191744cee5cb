"""JIT: write generated source to the cache and import it (numba compiles it, ``cache=True``).

Files are named ``<model>_<hash>.py`` with the hash of the rendered source, which includes the
dmftc version in its header; so a file never changes once written and any change to the model,
the templates or dmftc gives a new file. Writes are atomic (temporary file + ``os.replace``) and
serialised by a file lock, so two processes compiling the same model do not collide.
``DMFTC_CACHE_DIR`` overrides the per-user cache directory.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

import platformdirs
from filelock import FileLock

from dmftc.codegen.render import GeneratedSource
from dmftc.errors import CodegenError

log = logging.getLogger("dmftc")


def cache_dir() -> Path:
    root = os.environ.get("DMFTC_CACHE_DIR") or platformdirs.user_cache_dir("dmftc")
    return Path(root) / "generated"


def write_source(source: GeneratedSource) -> Path:
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / source.filename
        with FileLock(str(path) + ".lock", timeout=120):
            if not path.exists() or path.read_text(encoding="utf-8") != source.text:
                temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                temporary.write_text(source.text, encoding="utf-8")
                os.replace(temporary, path)
    except OSError as e:
        raise CodegenError(
            f"cannot write generated code to {directory}: {e.strerror}",
            hint="set DMFTC_CACHE_DIR to a writable directory",
        ) from None
    return path


def load_module(source: GeneratedSource) -> ModuleType:
    """Import the generated module (written to the cache first), once per process."""
    name = f"dmftc_generated_{source.filename[:-3]}"
    if name in sys.modules:
        return sys.modules[name]
    path = write_source(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a template bug: report the file so it can be read
        raise CodegenError(f"generated module {path} failed to import: {e}") from e
    sys.modules[name] = module
    return module


def is_cache_error(error: BaseException) -> bool:
    """True when ``error`` was raised while numba read its on-disk cache (a truncated or
    corrupted ``.nbi``/``.nbc`` file: an interrupted write, a full disk)."""
    frames = traceback.extract_tb(error.__traceback__)
    return any("numba" in frame.filename and "caching" in frame.filename for frame in frames)


def discard_imported(source: GeneratedSource) -> None:
    """Forget this process's import of the module (the next use imports it again)."""
    sys.modules.pop(f"dmftc_generated_{source.filename[:-3]}", None)


def discard(source: GeneratedSource) -> None:
    """Forget the imported module and delete numba's cache of it: the next import recompiles."""
    discard_imported(source)
    for cached in (cache_dir() / "__pycache__").glob(f"{source.filename[:-3]}.*.nb[ic]"):
        cached.unlink(missing_ok=True)


def first_call(source: GeneratedSource, call):
    """``call(module)``, the first use of the generated module in a process; returns (module,
    result). numba reads its cache at a function's first call: a corrupted cache file (a write
    cut short) is deleted and the module recompiled, once, instead of failing every later run."""
    module = load_module(source)
    try:
        return module, call(module)
    except Exception as e:
        if not is_cache_error(e):
            raise
        log.warning("numba's cache of %s is corrupted: recompiling", source.filename)
        discard(source)
        module = load_module(source)
        return module, call(module)
