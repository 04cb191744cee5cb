"""Printing sympy expressions as the Python source of generated numba code.

:class:`NumbaPrinter`, a subclass of sympy's Python printer, prints model expressions; symbols
print under the names of the model file (:class:`NameTable`); names dmftc introduces (``Xtg``,
``sel``, ``grad_w``, ...) give way to the model's own names when they collide.
"""

from __future__ import annotations

import builtins
import keyword

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from dmftc.errors import CodegenError
from dmftc.language.symbols import CLUSTER, DATA_FIELD, DT, EPS, HSTAR, SELECTION, STEP

# Names a model symbol may not take in generated code: Python keywords and builtins, the modules
# and helpers of the generated file, and the argument names of generated functions.
_TAKEN = (
    set(keyword.kwlist)
    | set(dir(builtins))
    | {
        "np",
        "math",
        "njit",
        "prange",
        "numba",
        "sigmoid",
        "softplus",
        "relu",
        "heaviside",
        "params",
        "z",
        "z_next",
        "jz",
        "jq",
        "out",
        "prim",
        "noise",
        "wstar_in",
        "cq",
        "co",
    }
)


class NameTable:
    """Code names of the symbols of one model, unique and valid Python identifiers."""

    def __init__(self):
        self.names: dict[sp.Symbol, str] = {}

    def add(self, symbol: sp.Symbol, preferred: str) -> str:
        if symbol in self.names:
            return self.names[symbol]
        name = preferred
        while name in _TAKEN or name in self.names.values():
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
    table.add(DATA_FIELD, "Xtg")
    table.add(SELECTION, "sel")
    table.add(HSTAR, "hstar")
    table.add(CLUSTER, "c")
    table.add(EPS, "eps")
    table.add(STEP, "t")
    table.add(DT, "dt")
