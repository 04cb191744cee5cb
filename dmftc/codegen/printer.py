"""Rendering: derivation -> readable, self-contained numba source (jinja2 templates).

Model expressions are printed by :class:`NumbaPrinter`, a subclass of sympy's Python printer;
every generated assignment carries the sympy expression it computes as a comment above it.
Symbols print under the names of the model file; names dmftc introduces (``Xtg``, ``sel``,
``grad_w``, ...) give way to the model's own names when they collide.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
from dataclasses import dataclass, field

import jinja2
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from dmftc import __version__
from dmftc.errors import CodegenError
from dmftc.language.expressions import relu, sigmoid, softplus
from dmftc.resources import resource_dir
from dmftc.language.symbols import CLUSTER, DATA_FIELD, DT, EPS, HSTAR, SELECTION, STEP

# Names a model symbol may not take in generated code: Python keywords and builtins, the modules
# and helpers of the generated file, and the argument names of generated functions.
_TAKEN = set(keyword.kwlist) | set(dir(builtins)) | {
    "np", "math", "njit", "prange", "numba", "sigmoid", "softplus", "relu", "heaviside",
    "params", "z", "z_next", "jz", "jq", "out", "prim", "noise", "wstar_in", "cq", "co",
}


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

    def _print_DiracDelta(self, e):  # the a.e. derivative of a step; used only for smooth models
        return "0.0"


@dataclass
class Function:
    """One generated function: a signature, a docstring and body lines."""

    name: str
    args: list[str]
    doc: str
    lines: list[str] = field(default_factory=list)
    decorator: str = "@njit(cache=True)"


class Emitter:
    """Prints sympy expressions into the lines of generated functions."""

    def __init__(self, names: NameTable, params: list[tuple[sp.Symbol, int]]):
        self.names = names
        self.printer = NumbaPrinter(names)
        self.params = params  # (symbol, index into the params array)

    def code(self, expr) -> str:
        return self.printer.doprint(sp.sympify(expr))

    def unpack_params(self, exprs) -> list[str]:
        """``lr = params[1]`` for every parameter the expressions use."""
        used = set()
        for e in exprs:
            used |= sp.sympify(e).free_symbols
        return [f"{self.names[s]} = params[{i}]" for s, i in self.params if s in used]

    def assign(self, targets: list[str], exprs: list[sp.Expr], comments: list[str] | None = None) -> list[str]:
        """Assignments ``target = expr`` with common subexpressions hoisted, each annotated
        with the sympy expression it computes."""
        exprs = [sp.sympify(e) for e in exprs]
        temporaries = sp.numbered_symbols("_c")
        shared, reduced = sp.cse(exprs, symbols=temporaries, optimizations=None)
        lines = []
        for sym, value in shared:
            self.names.add(sym, str(sym))
            lines.append(f"{self.names[sym]} = {self.code(value)}")
        for i, (target, expr, short) in enumerate(zip(targets, exprs, reduced)):
            comment = comments[i] if comments else f"{target} = {sp.sstr(expr)}"
            if comment:
                lines.append(f"# {comment}")
            lines.append(f"{target} = {self.code(short)}")
        return lines


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


def render(template: str, **context) -> str:
    try:
        return environment().get_template(template).render(dmftc_version=__version__, **context)
    except jinja2.TemplateError as e:
        raise CodegenError(f"template {template}: {e}") from None


def uses_function(exprs, cls) -> bool:
    return any(sp.sympify(e).has(cls) for e in exprs)


HELPERS = (("sigmoid", sigmoid), ("softplus", softplus), ("relu", relu), ("heaviside", sp.Heaviside))


def helpers_used(exprs) -> list[str]:
    exprs = list(exprs)
    return [name for name, cls in HELPERS if uses_function(exprs, cls)]


def standard_names(table: NameTable, model) -> None:
    """Register the model's own names first (they keep their spelling), then dmftc's."""
    for p in model.params:
        table.add(p.symbol, p.name)
    for v in model.coordinates:
        table.add(v.symbol, v.name)
    if model.teacher:
        table.add(model.teacher.symbol, model.teacher.name)
    if model.signal:
        table.add(model.signal.symbol, model.signal.name)
    if model.predict_name:
        table.add(model.h, model.predict_name)
    if model.label_name:
        table.add(model.y, model.label_name)
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
