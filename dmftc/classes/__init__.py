"""Model classes: one folder each, registered here.

Every class is an object implementing :class:`dmftc.classes.base.ModelClass`; the stages of the
compiler (analysis, derivation, code generation, solvers, simulators, verify) ask this registry
which class a model belongs to and what to do with it. Adding a class is one folder and one entry
in ``REGISTRY`` (docs/architecture.md).
"""

from __future__ import annotations

from dmftc.classes.base import ModelClass
from dmftc.classes.gaussian_data import CLASS as _gaussian_data
from dmftc.classes.gaussian_field import CLASS as _gaussian_field
from dmftc.classes.linear_system import CLASS as _linear_system
from dmftc.classes.matrix_program import CLASS as _matrix_program
from dmftc.classes.matrix_sgd import CLASS as _matrix_sgd
from dmftc.errors import DmftcError

REGISTRY: dict[str, ModelClass] = {
    c.name: c for c in (_gaussian_data, _gaussian_field, _linear_system, _matrix_sgd, _matrix_program)
}


def get(name: str) -> ModelClass:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DmftcError(
            f"unknown model class '{name}'", kind="unknown-class", hint="classes: " + ", ".join(REGISTRY)
        ) from None


def statement_handlers() -> dict:
    """Statement type -> handler, over every class (classes may share a handler)."""
    out: dict = {}
    for cls in REGISTRY.values():
        for kind, handler in cls.handlers.items():
            if out.setdefault(kind, handler) is not handler:
                raise TypeError(f"two classes handle {kind.__name__} differently")
    return out


def aggregate_requirements() -> dict[str, str]:
    """Aggregate (train, test, energy, ...) -> what a model needs to use it."""
    out: dict[str, str] = {}
    for cls in REGISTRY.values():
        out |= cls.aggregates
    return out
