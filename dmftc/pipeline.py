"""The compiler's stages in order, and their caches.

    model file --parse--> syntax tree --analyse--> Model --derive--> derivation
        --generate (lower + render)--> source and plan --jit--> module --solve/simulate--> Dataset

:func:`compile_model` parses and analyses at once (errors in a file show before any work); the
later stages run on first use and are kept: :class:`CompiledModel` holds every intermediate
value and the seconds each stage took (``timings``). The model class
(:mod:`dmftc.classes`) supplies derive, generate, solve and simulate.

Caches: the derivation and the generated module live as long as the ``CompiledModel``; on disk
the generated source (``dmftc.codegen.jit``, compiled by numba with ``cache=True``) and, beside
it, the lowered plan keyed by the model text and the dmftc code that lowers it, so that a model
solved before skips derivation and lowering (no sympy work) in a new process.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

from dmftc import classes
from dmftc.analysis.driver import analyse
from dmftc.analysis.model import Model
from dmftc.errors import DmftcError
from dmftc.language import nodes as n
from dmftc.language.syntax import parse, read_model_text

log = logging.getLogger("dmftc")


@dataclass
class CompiledModel:
    """A model file taken through the pipeline (later stages on demand)."""

    text: str
    path: str
    tree: n.ModelFile
    model: Model
    timings: dict = field(default_factory=dict)  # stage -> seconds
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def model_class(self) -> classes.ModelClass:
        return classes.get(self.model.cls)

    def _stage(self, name: str, run):
        """Run a stage once, timed (``timings[name]``: seconds in this process)."""
        if name not in self._cache:
            started = time.perf_counter()
            try:
                self._cache[name] = run()
            except DmftcError as e:
                raise e.with_source(self.path, self.text) from None
            self.timings[name] = time.perf_counter() - started
        return self._cache[name]

    @property
    def derivation(self):
        """The effective processes (the class's derivation; prints as text, LaTeX, Markdown)."""
        return self._stage("derive", lambda: self.model_class.derive(self.model))

    @property
    def generated(self):
        """(generated source, lowered plan), from the disk cache when this model was lowered before."""
        return self._stage("generate", self._generate)

    @property
    def module(self):
        """The generated module, imported (numba compiles it, or loads it from its cache)."""
        from dmftc.codegen.jit import load_module

        return self._stage("compile", lambda: load_module(self.generated[0]))

    def first_call(self, call):
        """``call(module)``, the first use of the generated module (:func:`dmftc.codegen.jit.first_call`:
        a corrupted numba cache is deleted and the module recompiled)."""
        from dmftc.codegen.jit import first_call

        self.module  # noqa: B018 (imported and timed as the "compile" stage)
        self._cache["compile"], result = first_call(self.generated[0], call)
        return result

    def _generate(self):
        key = plan_key(self.text, self.model.cls)
        cached = _read_plan(key)
        if cached is not None:
            return cached
        generated = self.model_class.generate(self.derivation)
        _write_plan(key, generated)
        return generated


def compile_model(path: str | Path | None = None, *, text: str | None = None) -> CompiledModel:
    """Parse and analyse a model file (or ``text``); the later stages run on demand."""
    if text is None:
        text = read_model_text(Path(path))
    filename = str(path) if path is not None else "<model>"
    started = time.perf_counter()
    tree = parse(text, filename)
    parsed = time.perf_counter()
    model = analyse(tree, text, filename)
    # a stage that a cache makes unnecessary takes 0 s in this process
    timings = {
        "parse": parsed - started,
        "analyse": time.perf_counter() - parsed,
        "derive": 0.0,
        "generate": 0.0,
        "compile": 0.0,
    }
    return CompiledModel(text, filename, tree, model, timings=timings)


# ----------------------------------------------------------------------- the plan cache


@functools.cache
def _code_hash() -> str:
    """A hash of dmftc's own code and templates: a lowered plan is reused only by the same code."""
    from dmftc.resources import resource_dir

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for root in (package, resource_dir("templates")):
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".j2") and "__pycache__" not in path.parts:
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def plan_key(text: str, model_class: str) -> str:
    # generated code depends on the opt-in parallel loops (dmftc.codegen.render.parallel_threads)
    parallel = os.environ.get("DMFTC_PARALLEL", "0") + os.environ.get("NUMBA_NUM_THREADS", "")
    return hashlib.sha256("\0".join((text, model_class, _code_hash(), parallel)).encode()).hexdigest()


def _plan_path(key: str) -> Path:
    from dmftc.codegen.jit import cache_dir

    return cache_dir() / "plans" / f"{key[:32]}.pickle"


def _read_plan(key: str):
    """The cached (source, plan), or None (absent, unreadable or from another key)."""
    path = _plan_path(key)
    try:
        stored_key, generated = pickle.loads(path.read_bytes())
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError):
        return None
    return generated if stored_key == key else None


def _write_plan(key: str, generated) -> None:
    """Store atomically; a cache that cannot be written only costs time."""
    path = _plan_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps((key, generated)))
        os.replace(partial, path)
    except OSError as e:
        log.debug("plan cache not written: %s", e)
