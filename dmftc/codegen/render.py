"""Rendering generated modules with jinja2 (templates/), and their identity.

Templates are rendered with ``StrictUndefined`` (a missing value is an error, not an empty
string); a generated file starts with a header naming the dmftc version, the model and its hash.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import jinja2

from dmftc.errors import CodegenError
from dmftc.resources import resource_dir
from dmftc.version import __version__


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GeneratedSource:
    """A generated module: its text and the file name it is cached under."""

    model_name: str
    text: str

    @property
    def hash(self) -> str:
        return source_hash(self.text)

    @property
    def filename(self) -> str:
        return f"{self.model_name}_{self.hash[:16]}.py"


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_module(template: str, model, functions, **context) -> GeneratedSource:
    """The generated module of ``model`` from ``template``: its functions, the helpers they call,
    and the header's version and model hash; ``context`` holds the template's other values."""
    try:
        text = (
            environment()
            .get_template(template)
            .render(
                dmftc_version=__version__,
                model=model,
                model_hash=source_hash(model.source),
                functions=functions,
                helpers=helpers_in(functions),
                **context,
            )
        )
    except jinja2.TemplateError as e:
        raise CodegenError(f"template {template}: {e}") from None
    return GeneratedSource(model.name, text)


HELPERS = ("sigmoid", "softplus", "relu", "heaviside")  # numba helpers of templates/common/helpers.py.j2


def helpers_in(functions) -> list[str]:
    """The helpers the generated functions call (each is rendered only when used)."""
    code = [line for f in functions for line in f.lines if not line.startswith("#")]
    return [name for name in HELPERS if any(f"{name}(" in line for line in code)]


def parallel_threads() -> int:
    """Numba threads for the parallel loops over samples, or 0 (serial, the default).

    Parallel loops are opt-in (``DMFTC_PARALLEL=1``): on an idle 2-core machine they halve the
    Jacobian passes, but on a loaded one numba's thread pool ran 5-25x slower than one thread,
    and compiled parallel code loaded from the cache under another thread count crashed (numba
    0.68). The thread count is therefore written into the generated file, hence its hash."""
    if os.environ.get("DMFTC_PARALLEL", "0") in ("", "0"):
        return 0
    import numba

    return numba.config.NUMBA_NUM_THREADS
