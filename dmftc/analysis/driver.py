"""Analysis: syntax tree -> :class:`Model`, with the semantic checks of LANGUAGE.md §6.

Names are resolved in file order (a name must be defined before it is used), each gets a kind,
and every expression becomes a sympy expression built node by node. The update block is composed
into one step map ``z -> F(z, grad, noise, t)`` over the per-coordinate variables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from dmftc.language import nodes as n
from dmftc.language.nodes import format_expr
from dmftc.classes.linear_system.analysis import LINEAR_SYSTEM, MATRIX_SGD, LinearStatements  # noqa: F401 (MATRIX_SGD: re-export)
from dmftc.errors import DmftcError, Location, ModelError, ParameterError, did_you_mean
from dmftc.language.expressions import MATH_FUNCTIONS, expect_arguments, to_sympy
from dmftc.language.symbols import (
    CLUSTER, DT, EPS, HSTAR, OVERLAP_M, OVERLAP_Q, RESERVED_NAMES, STEP, aggregate_symbol, grad_symbol,
    noise_symbol, random_symbol,
)
from dmftc.language.syntax import nested_too_deeply, parse, read_model_text

GAUSSIAN_DATA = "gaussian_data"
GAUSSIAN_FIELD = "gaussian_field"

# The keyword arguments of each `data` kind: name -> required. mixture(ratio, var, rho): rows
# x = c w*/d + N(0, var I/d) with cluster c = +1 or -1 with probability rho/2 each, else 0
# (two clusters when rho = 1; Mignacco et al. 2020); the teacher is the direction of the means.
DATA_KINDS = {"gaussian": {"ratio": True}, "mixture": {"ratio": True, "var": False, "rho": False},
              "online": {"dim": True}}  # online: the matrix family of dmftc/analyse_linear.py
DATA_DEFAULTS = {"mixture": {"var": sp.Integer(1), "rho": sp.Integer(1)}}
LANDSCAPE_KINDS = {"gaussian_field": {"xi": True}}
RANDOM_LAWS = ("normal", "uniform", "rademacher")
AGGREGATES = ("train", "test", "mean", "energy")
# Names of dataset variables that observables may not take.
OUTPUT_NAMES = {"step", "step2", "time", "C_theta", "R_theta", "C_g", "R_g", "C", "R", "m", "mu"}


# --------------------------------------------------------------------------- the analysed model


@dataclass(frozen=True)
class Parameter:
    name: str
    symbol: sp.Symbol
    default: sp.Expr  # in terms of earlier parameters
    loc: Location


@dataclass(frozen=True)
class RandomPrimitive:
    """An independent random number per coordinate: ``normal`` N(0,1), ``uniform`` U(0,1) or
    ``rademacher`` (+-1). The laws of LANGUAGE.md are affine maps of these."""

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


@dataclass(frozen=True)
class Aggregate:
    """``train(e)``, ``test(e)``, ``mean(e)`` or ``energy()`` inside an observable."""

    kind: str
    expr: sp.Expr  # per-sample (train, test) or per-coordinate (mean) expression; 0 for energy
    symbol: sp.Symbol


@dataclass(frozen=True)
class Observable:
    name: str
    expr: sp.Expr  # in aggregate symbols and parameters
    aggregates: tuple[Aggregate, ...]
    loc: Location
    text: str = ""  # as written in the file


@dataclass(frozen=True)
class Batch:
    kind: str  # fraction | epochs | persistent
    args: tuple[sp.Expr, ...]  # in parameters


@dataclass(frozen=True)
class Model:
    """Everything dmftc knows about a model file after analysis."""

    name: str
    path: str
    source: str
    disorder: str  # gaussian_data | gaussian_field
    time: str  # discrete (update:) | continuous (flow:)
    params: tuple[Parameter, ...]
    weights: tuple[Variable, ...]
    states: tuple[Variable, ...]
    teacher: Variable | None
    primitives: tuple[RandomPrimitive, ...]
    step_map: dict  # per-coordinate symbol -> its value after one step (or one dt of a flow)
    grad_point: dict  # weight symbol -> where grad() is evaluated, in start-of-step values
    noises: tuple[sp.Symbol, ...]  # gauss() of one step
    observables: tuple[Observable, ...]
    # gaussian_data
    data_kind: str | None = None
    data_args: dict = field(default_factory=dict)  # keyword -> sympy in parameters
    label_name: str | None = None
    label: sp.Expr | None = None  # y in hstar, eps, parameters
    label_text: str = ""
    predict_name: str | None = None
    theta: sp.Expr | None = None  # the predictor's per-coordinate weight: h = x . theta
    loss: sp.Expr | None = None  # per-sample loss in h, y, parameters
    penalty: sp.Expr = sp.Integer(0)  # per-coordinate penalty in the weights
    batch: Batch | None = None
    # gaussian_field
    xi: sp.Expr | None = None  # landscape covariance, in q
    signal: Variable | None = None
    strength: sp.Expr | None = None  # signal term, in m
    # linear_system (dmftc/analyse_linear.py)
    system: object | None = None

    @property
    def latent(self) -> sp.Symbol:
        """The per-sample variable the label depends on: h* (teacher data) or c (mixture)."""
        return CLUSTER if self.data_kind == "mixture" else HSTAR

    @property
    def h(self) -> sp.Symbol:
        return sp.Symbol(self.predict_name, real=True)

    @property
    def y(self) -> sp.Symbol:
        return sp.Symbol(self.label_name, real=True)

    @property
    def coordinates(self) -> tuple[Variable, ...]:
        """The per-coordinate state of the optimizer: weights, then states."""
        return self.weights + self.states

    def param(self, name: str) -> Parameter:
        return next(p for p in self.params if p.name == name)

    def resolve_params(self, overrides: dict | None = None) -> dict[str, float]:
        """Numeric value of every parameter: defaults, with ``overrides`` (name -> number) applied.

        A parameter whose default refers to others follows their overridden values.
        """
        overrides = dict(overrides or {})
        known = {p.name for p in self.params}
        for name, value in overrides.items():
            if name not in known:
                hint = did_you_mean(name, known) or (
                    "parameters: " + ", ".join(sorted(known)) if known else "this model has no parameters")
                raise ParameterError(f"unknown parameter '{name}'", hint=hint, kind="unknown-parameter")
            overrides[name] = _as_number(name, value)
        values: dict[str, float] = {}
        for p in self.params:
            if p.name in overrides:
                values[p.name] = overrides[p.name]
                continue
            v = p.default.subs({self.param(k).symbol: val for k, val in values.items()})
            values[p.name] = _finite(p.name, v)
        return values


def _as_number(name: str, value) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ParameterError(f"parameter '{name}' needs a number, got '{value}'",
                                 kind="bad-parameter-value") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"parameter '{name}' needs a number, got {value!r}",
                             kind="bad-parameter-value")
    if not math.isfinite(value):
        raise ParameterError(f"parameter '{name}' must be finite, got {value}", kind="bad-parameter-value")
    return float(value)


def _finite(name: str, value: sp.Expr) -> float:
    try:
        number = float(value)
    except TypeError:
        raise ParameterError(f"parameter '{name}' has no numeric value ({value})",
                             kind="bad-parameter-value") from None
    if not math.isfinite(number):
        raise ParameterError(f"parameter '{name}' evaluates to {number}", kind="bad-parameter-value")
    return number


# ------------------------------------------------------------------------------------- loading


def load_model(path: str | Path) -> Model:
    """Read, parse and analyse a model file."""
    path = Path(path)
    text = read_model_text(path)
    return analyse(parse(text, str(path)), text, str(path))


def analyse_text(text: str, filename: str = "<model>") -> Model:
    return analyse(parse(text, filename), text, filename)


def analyse(tree: n.ModelFile, source: str, filename: str = "<model>") -> Model:
    try:
        return _Analyser(tree, source, filename).run()
    except RecursionError:
        raise nested_too_deeply().with_source(filename, source) from None
    except DmftcError as e:
        raise e.with_source(filename, source) from None


# ------------------------------------------------------------------------------------ analysis


@dataclass
class _Binding:
    kind: str  # param | weight | state | teacher | signal | sample | temporary
    value: sp.Expr
    loc: Location


_KIND_WORDS = {
    "param": "a parameter",
    "weight": "a weight (per coordinate)",
    "state": "an optimizer state (per coordinate)",
    "teacher": "the teacher (per coordinate)",
    "signal": "the signal (per coordinate)",
    "sample": "per sample",
    "temporary": "a temporary of the update",
    "matrix": "the random matrix",
}
_SINGLETONS = (n.ModelDecl, n.DataDecl, n.TeacherDecl, n.LabelDecl, n.PredictDecl, n.LossDecl,
               n.PenaltyDecl, n.BatchDecl, n.LandscapeDecl, n.SignalDecl, n.MatrixDecl)
_STATEMENT_WORD = {
    n.ModelDecl: "model", n.DataDecl: "data", n.TeacherDecl: "teacher", n.LabelDecl: "label",
    n.PredictDecl: "predict", n.LossDecl: "loss", n.PenaltyDecl: "penalty", n.BatchDecl: "batch",
    n.LandscapeDecl: "landscape", n.SignalDecl: "signal", n.MatrixDecl: "matrix", n.UpdateBlock: "update",
    n.FlowBlock: "flow",
}


class _Analyser(LinearStatements):
    def __init__(self, tree: n.ModelFile, source: str, filename: str):
        self.tree = tree
        self.source = source
        self.filename = filename
        self.scope: dict[str, _Binding] = {}
        self.declared_later: dict[str, Location] = {}
        self.params: list[Parameter] = []
        self.weights: list[Variable] = []
        self.states: list[Variable] = []
        self.teacher: Variable | None = None
        self.signal: Variable | None = None
        self.primitives: list[RandomPrimitive] = []
        self.observables: list[Observable] = []
        self.seen: dict[type, Location] = {}
        self.out: dict = {}
        # x, hstar, eps and loss are per-sample names only in data models; a landscape model
        # conventionally calls its weights x.
        data = [s.call.func for s in tree.statements if isinstance(s, n.DataDecl)]
        self.mixture = "mixture" in data
        sample_names = (("x", "eps", "loss", "c" if self.mixture else "hstar") if data else ())
        self.reserved = {k: v for k, v in RESERVED_NAMES.items() if k in sample_names + ("t", "dt")}

    # ---------------------------------------------------------------------------------- driver
    def run(self) -> Model:
        statements = self.tree.statements
        if not statements:
            raise ModelError("the model file is empty", kind="empty-model",
                             hint="a model starts with 'model NAME'; see models/ for examples")
        for s in statements:
            name = getattr(s, "name", None)
            if name is not None and not isinstance(s, (n.ModelDecl, n.ObserveDecl)):
                self.declared_later.setdefault(name, s.name_loc)
        first = statements[0]
        if not isinstance(first, n.ModelDecl):
            model_decl = next((s for s in statements if isinstance(s, n.ModelDecl)), None)
            if model_decl is None:
                raise ModelError("the model has no 'model NAME' statement", first.loc,
                                 kind="missing-model", hint="start the file with 'model NAME'")
            raise ModelError("'model NAME' must be the first statement", model_decl.loc,
                             kind="model-not-first")
        blocks = [s for s in statements if isinstance(s, (n.UpdateBlock, n.FlowBlock))]
        for s in statements:
            self._check_singleton(s)
            handler = getattr(self, "_" + type(s).__name__)
            handler(s)
        return self._finish(blocks)

    def _check_singleton(self, s):
        kind = type(s)
        if isinstance(s, (n.UpdateBlock, n.FlowBlock)):
            kind = "block"
        elif not isinstance(s, _SINGLETONS):
            return
        if kind in self.seen:
            first = self.seen[kind]
            word = _STATEMENT_WORD[type(s)]
            what = "'update:' or 'flow:' block" if kind == "block" else f"'{word}' statement"
            raise ModelError(f"duplicate {what}: a model has only one", s.loc, kind="duplicate-statement",
                             hint=f"the first is on line {first.line}")
        self.seen[kind] = s.loc

    # ------------------------------------------------------------------------ names and scope
    def _define(self, name: str, loc: Location, kind: str, value: sp.Expr):
        if name.startswith("_"):
            raise ModelError(f"names starting with '_' are reserved for dmftc ('{name}')", loc,
                             kind="reserved-name")
        if name in self.reserved:
            raise ModelError(f"'{name}' is a reserved name ({self.reserved[name]})", loc,
                             kind="reserved-name")
        if name in MATH_FUNCTIONS:
            raise ModelError(f"'{name}' is the name of a function", loc, kind="reserved-name")
        if name in self.scope:
            first = self.scope[name].loc
            raise ModelError(f"'{name}' is already defined", loc, kind="duplicate-definition",
                             hint=f"first defined on line {first.line}")
        self.scope[name] = _Binding(kind, value, loc)

    def _unknown(self, node: n.Name, allowed_kinds: tuple[str, ...] = ()) -> ModelError:
        name = node.id
        if name in self.declared_later and self.declared_later[name].line > node.loc.line:
            return ModelError(f"'{name}' is used before its definition", node.loc,
                              kind="used-before-definition",
                              hint=f"'{name}' is defined on line {self.declared_later[name].line}; "
                                   "define names before using them")
        candidates = [k for k, b in self.scope.items() if not allowed_kinds or b.kind in allowed_kinds]
        return ModelError(f"unknown name '{name}'", node.loc, kind="undefined-name",
                          hint=did_you_mean(name, candidates))

    def _resolver(self, where: str, allowed: tuple[str, ...], extra: dict | None = None):
        """A name resolver for a statement that may use names of the ``allowed`` kinds."""
        extra = extra or {}

        def resolve(node: n.Name) -> sp.Expr:
            if node.id in extra:
                return extra[node.id]
            binding = self.scope.get(node.id)
            if binding is None:
                if node.id in self.reserved:
                    raise ModelError(f"'{node.id}' ({self.reserved[node.id]}) cannot be used in {where}",
                                     node.loc, kind="misplaced-name")
                raise self._unknown(node, allowed)
            if binding.kind not in allowed:
                raise ModelError(f"'{node.id}' is {_KIND_WORDS[binding.kind]} and cannot be used "
                                 f"in {where}", node.loc, kind="wrong-kind")
            return binding.value

        return resolve

    def _symbol(self, name: str) -> sp.Symbol:
        return sp.Symbol(name, real=True)

    # ------------------------------------------------------------------------------ statements
    def _ModelDecl(self, s: n.ModelDecl):
        self.out["name"] = s.name

    def _ParamDecl(self, s: n.ParamDecl):
        value = to_sympy(s.value, self._resolver("a parameter value", ("param",)))
        symbol = self._symbol(s.name)
        self._define(s.name, s.name_loc, "param", symbol)
        self.params.append(Parameter(s.name, symbol, value, s.name_loc))

    def _keyword_args(self, call: n.Call, spec: dict, what: str, extra=None) -> dict:
        if call.args:
            raise ModelError(f"{what} {call.func}() takes keyword arguments only "
                             f"({', '.join(f'{k} = ...' for k in spec)})", call.args[0].loc,
                             kind="bad-arguments")
        out = {}
        resolve = self._resolver(f"the {what} arguments", ("param",), extra)
        for kw in call.keywords:
            if kw.name not in spec:
                raise ModelError(f"{what} {call.func}() has no argument '{kw.name}'", kw.loc,
                                 kind="bad-arguments", hint=did_you_mean(kw.name, spec)
                                 or "arguments: " + ", ".join(spec))
            if kw.name in out:
                raise ModelError(f"argument '{kw.name}' given twice", kw.loc, kind="bad-arguments")
            out[kw.name] = to_sympy(kw.value, resolve)
        for name, required in spec.items():
            if required and name not in out:
                raise ModelError(f"{what} {call.func}() needs '{name} = ...'", call.loc,
                                 kind="bad-arguments")
        return out

    def _DataDecl(self, s: n.DataDecl):
        self._check_one_disorder(s, "xi")
        call = s.call
        if call.func not in DATA_KINDS:
            raise ModelError(f"unknown data model '{call.func}'", call.loc, kind="unknown-data",
                             hint=did_you_mean(call.func, DATA_KINDS) or "data models: " + ", ".join(DATA_KINDS))
        self.out["data_kind"] = call.func
        self.out["data_args"] = DATA_DEFAULTS.get(call.func, {}) | self._keyword_args(
            call, DATA_KINDS[call.func], "data")

    def _check_one_disorder(self, s, other: str):
        if other in self.out:
            raise ModelError("a model has either 'data' or 'landscape', not both", s.loc,
                             kind="two-disorders")

    def _law(self, expr: n.Expr, owner: str, allowed: tuple[str, ...]) -> sp.Expr:
        """A per-coordinate law: parameters, ``allowed`` names and random primitives."""
        count = 0

        def primitive(call: n.Call, convert) -> sp.Expr:
            nonlocal count
            count += 1
            symbol = random_symbol(owner, count)
            self.primitives.append(RandomPrimitive(symbol, call.func))
            if call.func == "normal":
                expect_arguments(call, 2, "2 arguments (mean, variance)")
                mean, var = (convert(a) for a in call.args)
                if var.is_negative:
                    raise ModelError("the variance of normal(mean, variance) is negative",
                                     call.args[1].loc, kind="bad-arguments")
                return mean + sp.sqrt(var) * symbol
            if call.func == "uniform":
                expect_arguments(call, 2, "2 arguments (low, high)")
                low, high = (convert(a) for a in call.args)
                return low + (high - low) * symbol
            expect_arguments(call, 0, "no arguments")
            return symbol

        return to_sympy(expr, self._resolver("a law", ("param",) + allowed),
                        {law: primitive for law in RANDOM_LAWS})

    def _TeacherDecl(self, s: n.TeacherDecl):
        law = self._law(s.law, s.name, ())
        symbol = self._symbol(s.name)
        self._define(s.name, s.name_loc, "teacher", symbol)
        self.teacher = Variable(s.name, symbol, "teacher", law, False, s.name_loc, format_expr(s.law))

    def _sample_names(self) -> dict:
        return {"c": CLUSTER, "eps": EPS} if self.mixture else {"hstar": HSTAR, "eps": EPS}

    def _LabelDecl(self, s: n.LabelDecl):
        if "data_kind" not in self.out:
            raise ModelError("'label' needs a 'data' statement before it", s.loc, kind="missing-data")
        if self.mixture and self.teacher is None:
            raise ModelError("mixture data needs a teacher: the direction of the cluster means", s.loc,
                             kind="missing-teacher", hint="add 'teacher vstar ~ normal(0, 1)' before the label")
        if self.teacher is None and _mentions(s.value, "hstar"):
            raise ModelError("'hstar' needs a teacher", _find_name(s.value, "hstar").loc,
                             kind="missing-teacher", hint="add 'teacher wstar ~ normal(0, 1)' before the label")
        value = to_sympy(s.value, self._resolver("the label (a per-sample expression)", ("param",),
                                                 self._sample_names()))
        self._define(s.name, s.name_loc, "sample", self._symbol(s.name))
        self.out["label_name"], self.out["label"] = s.name, value
        self.out["label_text"] = format_expr(s.value)

    def _WeightsDecl(self, s: n.WeightsDecl):
        # a warm start may use the teacher (data) or the signal (landscape): m0 * xstar + ...
        law = self._law(s.law, s.name, ("teacher", "signal"))
        symbol = self._symbol(s.name)
        self._define(s.name, s.name_loc, "weight", symbol)
        self.weights.append(Variable(s.name, symbol, "weight", law, s.sphere, s.name_loc,
                                     format_expr(s.law) + (" on sphere" if s.sphere else "")))

    def _StateDecl(self, s: n.StateDecl):
        if s.copy:
            init = to_sympy(s.init, self._resolver("a state's initial value", ("param", "weight", "state")))
            # in terms of the initial laws, so every initial value is a function of primitives
            init = init.subs({v.symbol: v.init for v in self.weights + self.states})
        else:
            init = self._law(s.init, s.name, ("teacher", "signal"))
        symbol = self._symbol(s.name)
        self._define(s.name, s.name_loc, "state", symbol)
        self.states.append(Variable(s.name, symbol, "state", init, False, s.name_loc,
                                    ("= " if s.copy else "") + format_expr(s.init)))

    def _PredictDecl(self, s: n.PredictDecl):
        if "data_kind" not in self.out:
            raise ModelError("'predict' needs a 'data' statement before it", s.loc, kind="missing-data")
        e = s.value
        if not (isinstance(e, n.Binary) and e.op == "."):
            raise ModelError("the prediction must be exactly 'x . e' (e.g. 'predict h = x . w'): dmftc "
                             "handles linear predictors of the data", e.loc, kind="bad-predict")
        if not (isinstance(e.left, n.Name) and e.left.id == "x"):
            raise ModelError("the prediction is 'x . e' with the data vector x on the left",
                             e.left.loc, kind="bad-predict")
        theta = to_sympy(e.right, self._resolver("the weight side of 'x . e' (per coordinate)",
                                                 ("param", "weight")))
        if not theta.free_symbols & {w.symbol for w in self.weights}:
            raise ModelError("'x . e' must involve the weights", e.right.loc, kind="bad-predict")
        self._define(s.name, s.name_loc, "sample", self._symbol(s.name))
        self.out["predict_name"], self.out["theta"] = s.name, theta

    def _LossDecl(self, s: n.LossDecl):
        if "predict_name" not in self.out:
            raise ModelError("'loss' needs a 'predict' statement before it", s.loc, kind="missing-predict")
        value = to_sympy(s.value, self._resolver("the loss (a per-sample expression)", ("param", "sample"),
                                                 self._loss_extra(s.value)))
        if self.out["predict_name"] not in {str(x) for x in value.free_symbols}:
            raise ModelError(f"the loss does not depend on the prediction '{self.out['predict_name']}'",
                             s.value.loc, kind="bad-loss")
        self.out["loss"] = value

    def _loss_extra(self, expr: n.Expr) -> dict:
        for name in self._sample_names():
            found = _find_name(expr, name)
            if found is not None:
                raise ModelError(f"the loss cannot use '{name}' directly: the optimizer sees only "
                                 "the prediction and the label", found.loc, kind="misplaced-name")
        return {}

    def _PenaltyDecl(self, s: n.PenaltyDecl):
        self.out["penalty"] = to_sympy(
            s.value, self._resolver("the penalty (a per-coordinate expression of the weights)",
                                    ("param", "weight")))

    def _BatchDecl(self, s: n.BatchDecl):
        resolve = self._resolver("the batch", ("param",))
        args = tuple(to_sympy(a, resolve) for a in s.args)
        for a, node in zip(args, s.args):
            if a.is_positive is False:
                raise ModelError("batch arguments must be positive", node.loc, kind="bad-arguments")
        if s.kind in ("fraction", "epochs") and (args[0] - 1).is_positive:
            raise ModelError(f"the batch {s.kind} must be in (0, 1]", s.args[0].loc, kind="bad-arguments")
        self.out["batch"] = Batch(s.kind, args)

    def _LandscapeDecl(self, s: n.LandscapeDecl):
        self._check_one_disorder(s, "data_kind")
        call = s.call
        if call.func not in LANDSCAPE_KINDS:
            raise ModelError(f"unknown landscape '{call.func}'", call.loc, kind="unknown-landscape",
                             hint=did_you_mean(call.func, LANDSCAPE_KINDS)
                             or "landscapes: " + ", ".join(LANDSCAPE_KINDS))
        args = self._keyword_args(call, LANDSCAPE_KINDS[call.func], "landscape", {"q": OVERLAP_Q})
        xi = args["xi"]
        kw = next(k for k in call.keywords if k.name == "xi")
        _check_covariance(xi, OVERLAP_Q, kw.value.loc, "xi(q)")
        self.out["xi"] = xi

    def _SignalDecl(self, s: n.SignalDecl):
        if "xi" not in self.out:
            raise ModelError("'signal' needs a 'landscape' statement before it", s.loc,
                             kind="missing-landscape")
        strength = to_sympy(s.strength, self._resolver("the signal strength", ("param",), {"m": OVERLAP_M}))
        _check_covariance(strength, OVERLAP_M, s.strength.loc, "strength(m)")
        symbol = self._symbol(s.name)
        self._define(s.name, s.name_loc, "signal", symbol)
        # the signal is uniform on the sphere: coordinates of unit variance
        self.signal = Variable(s.name, symbol, "signal", sp.Integer(0), s.sphere, s.name_loc,
                               "uniform on sphere")
        self.out["strength"] = strength

    def _ObserveDecl(self, s: n.ObserveDecl):
        if s.name in OUTPUT_NAMES:
            raise ModelError(f"'{s.name}' is the name of a dataset variable dmftc writes", s.name_loc,
                             kind="reserved-name")
        if s.name in {o.name for o in self.observables}:
            first = next(o for o in self.observables if o.name == s.name)
            raise ModelError(f"observable '{s.name}' is already defined", s.name_loc,
                             kind="duplicate-definition", hint=f"first defined on line {first.loc.line}")
        aggregates: list[Aggregate] = []
        per_sample = self._resolver("train()/test() (per-sample names)", ("param", "sample"),
                                    {**self._sample_names(), **self._loss_name()})
        per_coordinate = self._resolver("mean() (per-coordinate names)",
                                        ("param", "weight", "state", "teacher", "signal"))

        def aggregate(call: n.Call, convert) -> sp.Expr:
            if call.func == "energy":
                expect_arguments(call, 0, "no arguments")
                if "xi" not in self.out:
                    raise ModelError("energy() needs a landscape", call.loc, kind="misplaced-function")
                inner = sp.Integer(0)
            else:
                expect_arguments(call, 1, "one argument")
                if call.func in ("train", "test"):
                    if "data_kind" not in self.out:
                        raise ModelError(f"{call.func}() needs a 'data' statement", call.loc,
                                         kind="misplaced-function")
                    inner = to_sympy(call.args[0], per_sample)
                else:
                    inner = to_sympy(call.args[0], per_coordinate)
            symbol = aggregate_symbol(len(self.observables) * 100 + len(aggregates))
            aggregates.append(Aggregate(call.func, inner, symbol))
            return symbol

        outer = self._resolver("an observable (use train(), test(), mean() or energy() around "
                               "per-sample and per-coordinate names)", ("param",))
        value = to_sympy(s.value, outer, {k: aggregate for k in AGGREGATES})
        if not aggregates:
            raise ModelError("an observable needs train(), test(), mean() or energy()", s.value.loc,
                             kind="bad-observable")
        self.observables.append(Observable(s.name, value, tuple(aggregates), s.name_loc,
                                           format_expr(s.value)))

    def _loss_name(self) -> dict:
        return {"loss": self.out["loss"]} if "loss" in self.out else {}

    # --------------------------------------------------------------------------- the update
    def _UpdateBlock(self, s: n.UpdateBlock):
        self._require_optimizer_context(s)
        env: dict[str, sp.Expr] = {v.name: v.symbol for v in self.weights + self.states}
        grads = _GradCollector(self)
        noises: list[sp.Symbol] = []
        assigned: set[str] = set()

        for a in s.assignments:
            value = self._update_expr(a.value, env, grads, noises, with_step=True)
            binding = self.scope.get(a.target)
            if binding is not None and binding.kind not in ("weight", "state"):
                raise ModelError(f"cannot assign to '{a.target}': it is {_KIND_WORDS[binding.kind]}",
                                 a.loc, kind="bad-assignment")
            if binding is None:
                self._check_new_name(a.target, a.loc)
            else:
                assigned.add(a.target)
            env[a.target] = value

        self._check_all_updated(assigned, s)
        step_map = {v.symbol: env[v.name] for v in self.weights + self.states}
        self._store_dynamics("discrete", step_map, grads, noises)

    def _FlowBlock(self, s: n.FlowBlock):
        self._require_optimizer_context(s)
        env = {v.name: v.symbol for v in self.weights + self.states}
        grads = _GradCollector(self)
        noises: list[sp.Symbol] = []
        rates: dict[str, sp.Expr] = {}
        for eq in s.equations:
            binding = self.scope.get(eq.target)
            if binding is None or binding.kind not in ("weight", "state"):
                what = _KIND_WORDS[binding.kind] if binding else "not defined"
                raise ModelError(f"d{eq.target}/dt: '{eq.target}' is {what}; a flow evolves weights "
                                 "and states", eq.loc, kind="bad-assignment",
                                 hint=did_you_mean(eq.target, [v.name for v in self.weights + self.states]))
            if eq.target in rates:
                raise ModelError(f"d{eq.target}/dt is given twice", eq.loc, kind="duplicate-definition")
            rate = self._update_expr(eq.value, env, grads, noises, with_step=False)
            if any(sp.diff(rate, z, 2) != 0 for z in noises):
                raise ModelError(f"d{eq.target}/dt must be linear in gauss() (white noise)", eq.loc,
                                 kind="nonlinear-noise")
            rates[eq.target] = rate
        self._check_all_updated(set(rates), s)
        # Euler–Maruyama step of length dt: drift * dt + (noise coefficients) * sqrt(dt)
        step_map = {}
        for v in self.weights + self.states:
            rate = rates.get(v.name, sp.Integer(0))
            noise_part = sum((sp.diff(rate, z) * z for z in noises), sp.Integer(0))
            drift = sp.expand(rate - noise_part) if noises else rate
            step_map[v.symbol] = v.symbol + DT * drift + sp.sqrt(DT) * noise_part
        self._store_dynamics("continuous", step_map, grads, noises)

    def _require_optimizer_context(self, s):
        if not self.weights:
            raise ModelError("an update needs weights: add 'weights w ~ ...' before it", s.loc,
                             kind="missing-weights")
        if "data_kind" in self.out and "loss" not in self.out:
            raise ModelError("the update needs a 'loss' before it", s.loc, kind="missing-loss")

    def _check_new_name(self, name: str, loc: Location):
        if name.startswith("_") or name in self.reserved or name in MATH_FUNCTIONS:
            self._define(name, loc, "temporary", sp.Integer(0))  # raises the reserved-name error
        if name in self.declared_later:
            raise ModelError(f"'{name}' is defined later in the file and cannot be a temporary",
                             loc, kind="duplicate-definition")

    def _check_all_updated(self, assigned: set[str], s):
        for v in self.weights + self.states:
            if v.name not in assigned:
                role = "weight" if v.role == "weight" else "state"
                raise ModelError(f"{role} '{v.name}' is never updated", v.loc, kind="never-updated",
                                 hint=f"assign it in the {'flow' if isinstance(s, n.FlowBlock) else 'update'} "
                                      "block, or remove it")

    def _update_expr(self, expr: n.Expr, env: dict, grads: "_GradCollector", noises: list,
                     with_step: bool) -> sp.Expr:
        where = "the update (a per-coordinate rule)"

        def resolve(node: n.Name) -> sp.Expr:
            if node.id in env:
                return env[node.id]
            if node.id == "t" and with_step:
                return STEP
            binding = self.scope.get(node.id)
            if binding is not None and binding.kind == "param":
                return binding.value
            if binding is not None and binding.kind in ("teacher", "signal"):
                raise ModelError(f"the optimizer cannot see {_KIND_WORDS[binding.kind].split(' (')[0]} "
                                 f"'{node.id}'", node.loc, kind="wrong-kind")
            if binding is not None and binding.kind == "matrix":
                raise ModelError(f"the matrix '{node.id}' enters an update only as a product, '{node.id} . x'",
                                 node.loc, kind="wrong-kind", hint=f"e.g. dx/dt = -({node.id} . x)")
            if binding is not None:
                raise ModelError(f"'{node.id}' is {_KIND_WORDS[binding.kind]} and cannot be used in "
                                 f"{where}", node.loc, kind="wrong-kind",
                                 hint="an update is per coordinate: it sees weights, states, "
                                      "parameters, temporaries, grad(), gauss() and t")
            if node.id in self.reserved:
                raise ModelError(f"'{node.id}' ({self.reserved[node.id]}) cannot be used in {where}",
                                 node.loc, kind="misplaced-name")
            error = self._unknown(node)
            error.hint = did_you_mean(node.id, list(env) + [k for k, b in self.scope.items()
                                                             if b.kind == "param"])
            raise error

        def gauss(call: n.Call, convert) -> sp.Expr:
            expect_arguments(call, 0, "no arguments")
            noises.append(noise_symbol(len(noises) + 1))
            return noises[-1]

        def grad(call, convert) -> sp.Expr:
            return grads.add(call, env, convert)

        products = self.out.setdefault("products", [])
        return to_sympy(expr, resolve, {"grad": grad, "gauss": gauss, ".": self._matrix_product(products, env)})

    def _store_dynamics(self, time: str, step_map: dict, grads: "_GradCollector", noises: list):
        self.out["time"] = time
        self.out["step_map"] = step_map
        self.out["grad_point"] = grads.point or {w.symbol: w.symbol for w in self.weights}
        self.out["noises"] = tuple(noises)
        self.out["uses_grad"] = bool(grads.point)

    # ------------------------------------------------------------------------------- finish
    def _finish(self, blocks) -> Model:
        disorder = self._disorder()
        if not blocks:
            raise ModelError("the model has no 'update:' or 'flow:' block", kind="missing-update",
                             hint="add 'update:' with one indented line per assignment")
        if disorder == LINEAR_SYSTEM:
            self.out["system"] = self._check_linear_system(blocks[0])
        elif not self.out.get("uses_grad"):
            raise ModelError("the update never uses grad(): the optimizer does not see the data",
                             blocks[0].loc, kind="no-gradient")
        if disorder == GAUSSIAN_DATA:
            for key, word in (("predict_name", "predict"), ("loss", "loss")):
                if key not in self.out:
                    raise ModelError(f"a 'data' model needs a '{word}' statement", kind=f"missing-{word}")
        if disorder == GAUSSIAN_FIELD and len(self.weights) != 1:
            raise ModelError("a landscape model has exactly one weight vector", self.weights[1].loc,
                             kind="bad-weights")
        if disorder == GAUSSIAN_DATA and any(w.sphere for w in self.weights):
            w = next(w for w in self.weights if w.sphere)
            raise ModelError("'on sphere' is for landscape models", w.loc, kind="misplaced-sphere")
        return Model(
            name=self.out["name"],
            path=self.filename,
            source=self.source,
            disorder=disorder,
            time=self.out["time"],
            params=tuple(self.params),
            weights=tuple(self.weights),
            states=tuple(self.states),
            teacher=self.teacher,
            primitives=tuple(self.primitives),
            step_map=self.out["step_map"],
            grad_point=self.out["grad_point"],
            noises=self.out["noises"],
            observables=tuple(self.observables),
            data_kind=self.out.get("data_kind"),
            data_args=self.out.get("data_args", {}),
            label_name=self.out.get("label_name"),
            label=self.out.get("label"),
            label_text=self.out.get("label_text", ""),
            predict_name=self.out.get("predict_name"),
            theta=self.out.get("theta"),
            loss=self.out.get("loss"),
            penalty=self.out.get("penalty", sp.Integer(0)),
            batch=self.out.get("batch"),
            xi=self.out.get("xi"),
            signal=self.signal,
            strength=self.out.get("strength"),
            system=self.out.get("system"),
        )

    def _disorder(self) -> str:
        data, landscape = n.DataDecl in self.seen, n.LandscapeDecl in self.seen
        if n.MatrixDecl in self.seen:
            return self._linear_system_disorder()
        if self.out.get("data_kind") == "online":
            return self._online_disorder()
        if not data and not landscape:
            raise ModelError("the model has no disorder: add 'data gaussian(ratio = ...)', "
                             "'landscape gaussian_field(xi = ...)' or 'matrix M ~ goe()'", kind="missing-disorder")
        if landscape:
            for kind in (n.PredictDecl, n.LossDecl, n.LabelDecl, n.TeacherDecl, n.BatchDecl):
                if kind in self.seen:
                    raise ModelError(f"'{_STATEMENT_WORD.get(kind, 'teacher')}' belongs to data models, "
                                     "not to a landscape", self.seen[kind], kind="wrong-class")
            return GAUSSIAN_FIELD
        if n.SignalDecl in self.seen:
            raise ModelError("'signal' belongs to landscape models; data models have a teacher",
                             self.seen[n.SignalDecl], kind="wrong-class")
        return GAUSSIAN_DATA


class _GradCollector:
    """Collects the grad() calls of one step and checks they share one evaluation point."""

    def __init__(self, analyser: _Analyser):
        self.analyser = analyser
        self.point: dict | None = None

    def add(self, call, env: dict, convert) -> sp.Expr:
        a = self.analyser
        weights = {w.name: w for w in a.weights}
        if isinstance(call, n.GradAt):
            target, target_loc = call.weight, call.weight_loc
        else:
            if call.keywords or len(call.args) != 1 or not isinstance(call.args[0], n.Name):
                raise ModelError("grad() takes one weight: grad(w) or grad(w at point)", call.loc,
                                 kind="bad-arguments")
            target, target_loc = call.args[0].id, call.args[0].loc
        if target not in weights:
            binding = a.scope.get(target)
            what = _KIND_WORDS[binding.kind] if binding else ("a temporary" if target in env else "not defined")
            raise ModelError(f"grad({target}): '{target}' is {what}, not a weight", target_loc,
                             kind="grad-of-non-weight", hint=did_you_mean(target, weights)
                             or "grad() takes one of the weights: " + ", ".join(weights))
        point = {w.symbol: w.symbol for w in a.weights}
        if isinstance(call, n.GradAt):
            point[weights[target].symbol] = convert(call.point)
            if point[weights[target].symbol].has(*[grad_symbol(w) for w in weights]):
                raise ModelError("the point of grad(... at point) cannot itself use grad()",
                                 call.point.loc, kind="bad-arguments")
        if self.point is None:
            self.point = point
        elif any(sp.simplify(self.point[k] - point[k]) != 0 for k in point):
            raise ModelError("all grad() calls of a step must be taken at the same point "
                             "(one gradient evaluation per step)", call.loc, kind="two-gradient-points")
        return grad_symbol(target)


def _mentions(expr: n.Expr, name: str) -> bool:
    return _find_name(expr, name) is not None


def _find_name(expr: n.Expr, name: str) -> n.Name | None:
    match expr:
        case n.Name(id=found) if found == name:
            return expr
        case n.Unary():
            return _find_name(expr.operand, name)
        case n.Binary():
            return _find_name(expr.left, name) or _find_name(expr.right, name)
        case n.Call():
            for a in expr.args + tuple(k.value for k in expr.keywords):
                hit = _find_name(a, name)
                if hit is not None:
                    return hit
        case n.GradAt():
            return _find_name(expr.point, name)
    return None


def _check_covariance(expr: sp.Expr, var: sp.Symbol, loc: Location, what: str):
    """A covariance function is a sum of terms ``c * var^k`` (``c`` and ``k`` may be parameters;
    their signs are checked when numbers are known)."""
    if not expr.has(var):
        raise ModelError(f"{what} does not depend on {var}", loc, kind="bad-covariance")
    for term in sp.Add.make_args(sp.expand(expr)):
        coefficient, exponent = term.as_coeff_exponent(var)
        if coefficient.has(var) or exponent.has(var) or exponent.is_negative:
            raise ModelError(f"{what} must be a sum of terms c * {var}^k with c, k >= 0", loc,
                             kind="bad-covariance", hint=f"the term {term} is not of that form")
