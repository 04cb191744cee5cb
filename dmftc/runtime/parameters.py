"""Parameter values a run cannot take (a negative data ratio, a batch fraction above 1, ...): the
error points at the ``param`` line of a parameter that sets the value (docs/language.md §6)."""

from __future__ import annotations

from dmftc.errors import SolverError


def bad_value(model, params: dict, message: str, *exprs) -> SolverError:
    """The error (kind ``bad-parameter``) for a value computed from ``exprs`` (expressions in the
    model's parameters): located at the line of the first parameter they use, with the values of
    all those they use in the hint."""
    used = [p for p in model.params if any(p.symbol in e.free_symbols for e in exprs)]
    return SolverError(
        message,
        used[0].loc if used else None,
        kind="bad-parameter",
        hint=("from " + ", ".join(f"{p.name} = {params[p.name]:g}" for p in used)) if used else None,
        filename=model.path,
        source=model.source,
    )
