"""The interface between Python and generated code, declared once.

An :class:`EntryPoint` names a function of a generated module and its arguments. The lowered
plan of a class holds its entry points; the template writes each signature from the declaration
(``def forward_pass({{ plan.entry.forward_pass }}):``) and the solver calls it by name
(``plan.entry["forward_pass"].call(module, t0=..., **arrays)``), so the two can never disagree on
the order of 30 arguments. Scalars passed at run time (the model's parameters, then ``dt`` for a
flow) are :func:`runtime_parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.errors import CodegenError
from dmftc.language.symbols import DT


@dataclass(frozen=True)
class EntryPoint:
    name: str
    arguments: tuple[str, ...]

    @classmethod
    def declare(cls, name: str, arguments: str) -> EntryPoint:
        """``EntryPoint.declare("f", "t0 t1 params X")``."""
        return cls(name, tuple(arguments.split()))

    def __str__(self) -> str:
        """The argument list, wrapped for a ``def`` line of generated code."""
        lines, line = [], ""
        for argument in self.arguments:
            piece = argument if not line else f"{line}, {argument}"
            if len(piece) > 80 and line:
                lines.append(line + ",")
                line = argument
            else:
                line = piece
        lines.append(line)
        indent = " " * (len(self.name) + 5)
        return ("\n" + indent).join(lines)

    def call(self, module, **values):
        """Call the generated function with the named values (every argument, no other)."""
        missing = [a for a in self.arguments if a not in values]
        extra = [k for k in values if k not in self.arguments]
        if missing or extra:
            raise CodegenError(f"internal error: {self.name}() called without {missing} / with unknown {extra}")
        return getattr(module, self.name)(*(values[a] for a in self.arguments))


class EntryPoints(dict):
    """name -> EntryPoint, also readable as attributes in templates (``plan.entry.forward_pass``)."""

    def __init__(self, *entries: EntryPoint):
        super().__init__((e.name, e) for e in entries)

    def __getattr__(self, name: str) -> EntryPoint:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def runtime_parameters(model) -> list[tuple[sp.Symbol, str]]:
    """The scalars passed to generated code at run time, in order: the model's parameters, then
    ``dt`` for a flow (a model cannot name a parameter ``dt``)."""
    out = [(p.symbol, p.name) for p in model.params]
    if model.time == "continuous":
        out.append((DT, "dt"))
    return out
