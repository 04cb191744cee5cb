"""The analysed model: a core every class shares, plus a typed per-class specification.

The core holds what every model has: parameters, per-coordinate variables (weights and optimizer
states), the composed step map of the update (or of one ``dt`` of a flow), the gradient's point,
the noises and the observables. What only one class of models has (the data and the loss, the
landscape, the random matrix) is the model's ``spec``, whose type the class defines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from dmftc.errors import Location, ParameterError, did_you_mean


@dataclass(frozen=True)
class Parameter:
    name: str
    symbol: sp.Symbol
    default: sp.Expr  # in terms of earlier parameters
    loc: Location


@dataclass(frozen=True)
class RandomPrimitive:
    """An independent random number per coordinate: ``normal`` N(0,1), ``uniform`` U(0,1) or
    ``rademacher`` (+-1). The laws of the language are affine maps of these."""

    symbol: sp.Symbol
    law: str

    @property
    def mean(self) -> sp.Expr:
        return sp.Rational(1, 2) if self.law == "uniform" else sp.Integer(0)

    @property
    def second_moment(self) -> sp.Expr:
        return sp.Rational(1, 3) if self.law == "uniform" else sp.Integer(1)


@dataclass(frozen=True)
class Variable:
    """A per-coordinate variable: a weight, an optimizer state, the teacher or the signal."""

    name: str
    symbol: sp.Symbol
    role: str  # weight | state | teacher | signal
    init: sp.Expr  # initial value: parameters, teacher and random primitives (states: weights too)
    sphere: bool
    loc: Location
    init_text: str = ""  # the initial value as written in the file
    space: str | None = None  # the index space of a matrix program's variable


@dataclass(frozen=True)
class Aggregate:
    """``train(e)``, ``test(e)``, ``mean(e)`` or ``energy()`` inside an observable."""

    kind: str
    expr: sp.Expr  # per-sample (train, test) or per-coordinate (mean) expression; 0 for energy
    symbol: sp.Symbol
    point: sp.Expr | None = None  # test(e at v): the per-coordinate v of the prediction x . v


@dataclass(frozen=True)
class Observable:
    name: str
    expr: sp.Expr  # in aggregate symbols and parameters
    aggregates: tuple[Aggregate, ...]
    loc: Location
    text: str = ""  # as written in the file


@dataclass(frozen=True)
class Model:
    """Everything dmftc knows about a model file after analysis."""

    name: str
    path: str
    source: str
    cls: str  # the model class (a key of dmftc.classes.REGISTRY)
    time: str  # discrete (update:) | continuous (flow:)
    params: tuple[Parameter, ...]
    weights: tuple[Variable, ...]
    states: tuple[Variable, ...]
    primitives: tuple[RandomPrimitive, ...]
    step_map: dict  # per-coordinate symbol -> its value after one step (or one dt of a flow)
    grad_point: dict  # weight symbol -> where grad() is evaluated, in start-of-step values
    noises: tuple[sp.Symbol, ...]  # gauss() of one step
    observables: tuple[Observable, ...]
    penalty: sp.Expr  # per-coordinate penalty in the weights (0 without one)
    spec: object  # the class's own part: DataSpec, FieldSpec, LinearSpec, ...

    @property
    def coordinates(self) -> tuple[Variable, ...]:
        """The per-coordinate state of the optimizer: weights, then states."""
        return self.weights + self.states

    def param(self, name: str) -> Parameter:
        return next(p for p in self.params if p.name == name)

    def values(self, params: dict[str, float]) -> dict[sp.Symbol, float]:
        """Parameter symbol -> number, for substitution into the model's expressions."""
        return {p.symbol: params[p.name] for p in self.params}

    def resolve_params(self, overrides: dict | None = None) -> dict[str, float]:
        """Numeric value of every parameter: defaults, with ``overrides`` (name -> number) applied.

        A parameter whose default refers to others follows their overridden values.
        """
        overrides = dict(overrides or {})
        known = {p.name for p in self.params}
        for name, value in overrides.items():
            if name not in known:
                hint = did_you_mean(name, known) or (
                    "parameters: " + ", ".join(sorted(known)) if known else "this model has no parameters"
                )
                raise ParameterError(f"unknown parameter '{name}'", hint=hint, kind="unknown-parameter")
            overrides[name] = _as_number(name, value)
        values: dict[str, float] = {}
        name_of = {p.symbol: p.name for p in self.params}
        for p in self.params:
            if p.name in overrides:
                values[p.name] = overrides[p.name]
                continue
            free = p.default.free_symbols  # earlier parameters only (analysis checked it)
            v = p.default.subs({s: values[name_of[s]] for s in free}) if free else p.default
            values[p.name] = _finite(p.name, v)
        return values


def _as_number(name: str, value) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ParameterError(
                f"parameter '{name}' needs a number, got '{value}'", kind="bad-parameter-value"
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"parameter '{name}' needs a number, got {value!r}", kind="bad-parameter-value")
    if not math.isfinite(value):
        raise ParameterError(f"parameter '{name}' must be finite, got {value}", kind="bad-parameter-value")
    return float(value)


def _finite(name: str, value: sp.Expr) -> float:
    try:
        number = float(value)
    except TypeError:
        raise ParameterError(f"parameter '{name}' has no numeric value ({value})", kind="bad-parameter-value") from None
    if not math.isfinite(number):
        raise ParameterError(f"parameter '{name}' evaluates to {number}", kind="bad-parameter-value")
    return number
