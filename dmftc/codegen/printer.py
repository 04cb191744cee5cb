"""Printing sympy expressions as the Python source of generated numba code.

:class:`NumbaPrinter`, a subclass of sympy's Python printer, prints model expressions; symbols
print under the names of the model file (:class:`NameTable`), renamed only where generated code
already uses the name.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from dmftc.errors import CodegenError
from dmftc.language.symbols import CLUSTER, DATA_FIELD, DT, EPS, HSTAR, SELECTION, STEP
from dmftc.resources import resource_dir

# The names of generated code that a model's names must avoid: Python's keywords and builtins,
# the arguments, targets and results of the generated model functions (the "plumbing" of
# lower.py), and every identifier of the templates (their functions, constants and locals).
PLUMBING = {
    "params", "z", "z_next", "jz", "jq", "out", "prim", "noise", "value", "g", "g_h", "agg",
    "A", "b", "Cn", "d", "E", "Q", "l", "c", "cq", "co", "wstar_in", "xstar_in",
    "PR", "Znew", "dZ", "dH", "jac", "dout", "c0", "U", "q", "Qq", "lq", "c0q",  # matrix programs
}  # fmt: skip


@functools.cache
def taken_names() -> frozenset[str]:
    identifiers = set(keyword.kwlist) | set(dir(builtins)) | PLUMBING
    for path in resource_dir("templates").rglob("*.j2"):
        identifiers |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path.read_text(encoding="utf-8")))
    return frozenset(identifiers)


class NameTable:
    """Code names of the symbols of one model, unique and valid Python identifiers.

    A model's own names (``internal=False``) keep their spelling unless generated code already
    uses it (then a ``_`` is appended: a model parameter ``b`` prints as ``b_``); dmftc's own
    symbols (``internal=True``: ``Xtg``, ``sel``, ``t``, ...) keep theirs, which the model's
    names therefore never take. Generated signatures use these names (``names[symbol]``)."""

    def __init__(self):
        self.names: dict[sp.Symbol, str] = {}

    def add(self, symbol: sp.Symbol, preferred: str, internal: bool = False) -> str:
        if symbol in self.names:
            return self.names[symbol]
        used = set(self.names.values())
        avoid = used | (set(keyword.kwlist) | set(dir(builtins)) if internal else taken_names())
        name = preferred
        while name in avoid:
            name += "_"
        self.names[symbol] = name
        return name

    def __getitem__(self, symbol: sp.Symbol) -> str:
        return self.names[symbol]


class NumbaPrinter(PythonCodePrinter):
    """sympy -> Python source that numba compiles (math functions on scalars)."""

    def __init__(self, names: NameTable):
        super().__init__({"standard": "python3", "fully_qualified_modules": True})
        self.table = names

    def _print_Symbol(self, symbol):
        try:
            return self.table[symbol]
        except KeyError:
            raise CodegenError(f"internal error: no code name for symbol {symbol}") from None

    def _print_sigmoid(self, e):
        return f"sigmoid({self._print(e.args[0])})"

    def _print_softplus(self, e):
        return f"softplus({self._print(e.args[0])})"

    def _print_relu(self, e):
        return f"relu({self._print(e.args[0])})"

    def _print_Heaviside(self, e):
        x = self._print(e.args[0])
        at_zero = e.args[1] if len(e.args) > 1 else sp.Rational(1, 2)
        return f"heaviside({x}, {float(at_zero)!r})"

    def _print_log(self, e):
        x = e.args[0]
        if isinstance(x, sp.Add) and sp.S.One in x.args:  # log(1 + u) keeps its digits for small u
            return f"math.log1p({self._print(x - 1)})"
        return f"math.log({self._print(x)})"

    def _print_DiracDelta(self, e):  # the a.e. derivative of a step; used only for smooth models
        return "0.0"


def standard_names(table: NameTable, model, own: dict) -> None:
    """Register the model's own names first (they keep their spelling), then dmftc's. ``own``:
    the class's named symbols (teacher, prediction, label, signal; ModelClass.named_symbols)."""
    for p in model.params:
        table.add(p.symbol, p.name)
    for v in model.coordinates:
        table.add(v.symbol, v.name)
    for name, symbol in own.items():
        table.add(symbol, name)
    for k, z in enumerate(model.noises, start=1):
        table.add(z, f"noise_{k}")
    for p in model.primitives:
        number, owner = str(p.symbol)[1:].rstrip("]").split("[")  # ξ<k>[<owner>]
        table.add(p.symbol, f"xi_{owner}_{number}")
    for w in model.weights:
        table.add(sp.Symbol(f"∇{w.name}", real=True), f"grad_{w.name}")
    for symbol, name in (
        (DATA_FIELD, "Xtg"),
        (SELECTION, "sel"),
        (HSTAR, "hstar"),
        (CLUSTER, "c"),
        (EPS, "eps"),
        (STEP, "t"),
        (DT, "dt"),
    ):
        table.add(symbol, name, internal=True)
