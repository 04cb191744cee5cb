"""The analysis driver: syntax tree -> :class:`~dmftc.analysis.model.Model`, with the semantic
checks of docs/language.md §6.

Names are resolved in file order (a name must be defined before it is used), each gets a kind,
and every expression becomes a sympy expression built node by node. The update block is composed
into one step map ``z -> F(z, grad, noise, t)`` over the per-coordinate variables.

The driver handles the statements every model has (``model``, ``param``, ``weights``,
``state``, ``penalty``, ``observe``, ``update:``, ``flow:``). The statement that selects the model
class (``data``, ``landscape``, ``matrix``) is found first; the statements a class adds to the
language are handled by the class (``dmftc.classes``), through the methods of :class:`Analyser`
documented as the handler interface, and the class's :meth:`finish` builds its specification.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from dmftc import classes
from dmftc.analysis.model import Aggregate, Model, Observable, Parameter, RandomPrimitive, Variable
from dmftc.errors import DmftcError, Location, ModelError, did_you_mean
from dmftc.language import nodes as n
from dmftc.language.expressions import MATH_FUNCTIONS, Definition, expect_arguments, to_sympy
from dmftc.language.nodes import KEYWORD, find_name, format_expr
from dmftc.language.symbols import DT, RESERVED_NAMES, STEP, aggregate_symbol, grad_symbol, noise_symbol, random_symbol
from dmftc.language.syntax import nested_too_deeply, parse, read_model_text

RANDOM_LAWS = ("normal", "uniform", "rademacher")
# Names of dataset variables that observables may not take.
OUTPUT_NAMES = {"step", "step2", "time", "C_theta", "R_theta", "C_g", "R_g", "C", "R", "m", "mu"}
# Statements every model may use; a class adds its own (ModelClass.statements).
COMMON_STATEMENTS = frozenset(
    {n.ModelDecl, n.ParamDecl, n.LetDecl, n.WeightsDecl, n.StateDecl, n.ObserveDecl, n.UpdateBlock, n.FlowBlock}
)
# Statements a model has at most once.
SINGLETONS = (
    n.ModelDecl,
    n.DataDecl,
    n.TeacherDecl,
    n.LabelDecl,
    n.PredictDecl,
    n.LossDecl,
    n.PenaltyDecl,
    n.BatchDecl,
    n.LandscapeDecl,
    n.SignalDecl,
    n.MatrixDecl,
)


def load_model(path: str | Path) -> Model:
    """Read, parse and analyse a model file."""
    path = Path(path)
    text = read_model_text(path)
    return analyse(parse(text, str(path)), text, str(path))


def analyse_text(text: str, filename: str = "<model>") -> Model:
    return analyse(parse(text, filename), text, filename)


def analyse(tree: n.ModelFile, source: str, filename: str = "<model>") -> Model:
    try:
        return Analyser(tree, source, filename).run()
    except RecursionError:
        raise nested_too_deeply().with_source(filename, source) from None
    except DmftcError as e:
        raise e.with_source(filename, source) from None


@dataclass
class Binding:
    kind: str  # param | weight | state | teacher | signal | sample | temporary | matrix | space | const | definition
    value: sp.Expr | Definition
    loc: Location


KIND_WORDS = {
    "param": "a parameter",
    "weight": "a weight (per coordinate)",
    "state": "an optimizer state (per coordinate)",
    "teacher": "the teacher (per coordinate)",
    "signal": "the signal (per coordinate)",
    "sample": "per sample",
    "temporary": "a temporary of the update",
    "definition": "a definition (let)",
    "matrix": "a random matrix",
    "space": "an index space",
    "const": "a per-site constant",
}


class Analyser:
    """The analysis of one model file.

    Handler interface (for the statements of model classes): :meth:`define`, :meth:`resolver`,
    :meth:`use`, :meth:`keyword_args`, :meth:`law`, :meth:`symbol`, :meth:`enable_aggregates`; the
    attributes ``out`` (the class's own results, read by its ``finish``), ``seen`` (statement
    type -> location), ``sample_names`` (per-sample names of data models, name -> symbol),
    ``update_specials`` (extra operators of update expressions, e.g. the matrix product '.'),
    ``assignment_handlers`` (binding kind -> handler of an update line assigning to a name of that
    kind, e.g. a trained matrix) and ``required_before_update`` ((key of ``out``, message) pairs
    checked at the update block).
    """

    def __init__(self, tree: n.ModelFile, source: str, filename: str):
        self.tree = tree
        self.source = source
        self.filename = filename
        self.scope: dict[str, Binding] = {}
        self.declared_later: dict[str, Location] = {}
        self.params: list[Parameter] = []
        self.weights: list[Variable] = []
        self.states: list[Variable] = []
        self.primitives: list[RandomPrimitive] = []
        self.observables: list[Observable] = []
        self.seen: dict[type, Location] = {}
        self.out: dict = {}
        self.penalty: sp.Expr = sp.Integer(0)
        self.sample_names: dict[str, sp.Expr] = {}
        self.update_specials: dict = {}
        self.assignment_handlers: dict = {}
        self.required_before_update: list[tuple[str, str]] = []
        self.enabled_aggregates: set[str] = {"mean"}
        self.lets = {s.name: s for s in tree.statements if isinstance(s, n.LetDecl)}
        self.unused: dict[str, Location] = {}  # definitions not used yet
        self.model_class, selector = _select_class(tree)
        reserved = ("t", "dt") + (self.model_class.reserved_names(selector) if self.model_class else ())
        self.reserved = {k: v for k, v in RESERVED_NAMES.items() if k in reserved}

    # ---------------------------------------------------------------------------------- driver
    def run(self) -> Model:
        statements = self.tree.statements
        if not statements:
            raise ModelError(
                "the model file is empty",
                kind="empty-model",
                hint="a model starts with 'model NAME'; see models/ for examples",
            )
        for s in statements:
            name = getattr(s, "name", None)
            if name is not None and not isinstance(s, (n.ModelDecl, n.ObserveDecl)):
                self.declared_later.setdefault(name, s.name_loc)
        first = statements[0]
        if not isinstance(first, n.ModelDecl):
            model_decl = next((s for s in statements if isinstance(s, n.ModelDecl)), None)
            if model_decl is None:
                raise ModelError(
                    "the model has no 'model NAME' statement",
                    first.loc,
                    kind="missing-model",
                    hint="start the file with 'model NAME'",
                )
            raise ModelError("'model NAME' must be the first statement", model_decl.loc, kind="model-not-first")
        blocks = [s for s in statements if isinstance(s, (n.UpdateBlock, n.FlowBlock))]
        class_handlers = classes.statement_handlers()
        for s in statements:
            self._check_singleton(s)
            handler = class_handlers.get(type(s))
            if handler is not None:
                handler(self, s)
            else:
                getattr(self, "_" + type(s).__name__)(s)
        return self._finish(blocks)

    def _check_singleton(self, s):
        kind = type(s)
        if isinstance(s, (n.UpdateBlock, n.FlowBlock)):
            kind = "block"
        elif not isinstance(s, SINGLETONS):
            return
        if kind in self.seen:
            first = self.seen[kind]
            what = "'update:' or 'flow:' block" if kind == "block" else f"'{KEYWORD[type(s)]}' statement"
            raise ModelError(
                f"duplicate {what}: a model has only one",
                s.loc,
                kind="duplicate-statement",
                hint=f"the first is on line {first.line}",
            )
        self.seen[kind] = s.loc

    # ------------------------------------------------------------ names and scope (handler API)
    def define(self, name: str, loc: Location, kind: str, value: sp.Expr):
        """Bind a new name of the given kind (see ``KIND_WORDS``)."""
        if name.startswith("_"):
            raise ModelError(f"names starting with '_' are reserved for dmftc ('{name}')", loc, kind="reserved-name")
        if name in self.reserved:
            raise ModelError(f"'{name}' is a reserved name ({self.reserved[name]})", loc, kind="reserved-name")
        if name in MATH_FUNCTIONS:
            raise ModelError(f"'{name}' is the name of a function", loc, kind="reserved-name")
        if name in self.scope:
            first = self.scope[name].loc
            raise ModelError(
                f"'{name}' is already defined",
                loc,
                kind="duplicate-definition",
                hint=f"first defined on line {first.line}",
            )
        self.scope[name] = Binding(kind, value, loc)

    def unknown(self, node: n.Name, allowed_kinds: tuple[str, ...] = ()) -> ModelError:
        """The error for an undefined name (or one used before its definition)."""
        name = node.id
        if name in self.declared_later and self.declared_later[name].line > node.loc.line:
            return ModelError(
                f"'{name}' is used before its definition",
                node.loc,
                kind="used-before-definition",
                hint=f"'{name}' is defined on line {self.declared_later[name].line}; define names before using them",
            )
        candidates = [k for k, b in self.scope.items() if not allowed_kinds or b.kind in allowed_kinds]
        return ModelError(
            f"unknown name '{name}'", node.loc, kind="undefined-name", hint=did_you_mean(name, candidates)
        )

    def resolver(self, where: str, allowed: tuple[str, ...], extra: dict | None = None):
        """A name resolver for a statement that may use names of the ``allowed`` kinds."""
        extra = extra or {}

        def resolve(node: n.Name) -> sp.Expr | Definition:
            if node.id in extra:
                return extra[node.id]
            binding = self.scope.get(node.id)
            if binding is not None and binding.kind == "definition":
                return self.use(binding)
            if binding is None:
                if node.id in self.reserved:
                    raise ModelError(
                        f"'{node.id}' ({self.reserved[node.id]}) cannot be used in {where}",
                        node.loc,
                        kind="misplaced-name",
                    )
                raise self.unknown(node, allowed)
            if binding.kind not in allowed:
                raise ModelError(
                    f"'{node.id}' is {KIND_WORDS[binding.kind]} and cannot be used in {where}",
                    node.loc,
                    kind="wrong-kind",
                )
            return binding.value

        return resolve

    def use(self, binding: Binding) -> Definition:
        """What a resolver returns for a definition (``let``): ``to_sympy`` converts its
        expression in the resolver's place. Marks the definition used."""
        self.unused.pop(binding.value.name, None)
        return binding.value

    @staticmethod
    def symbol(name: str) -> sp.Symbol:
        return sp.Symbol(name, real=True)

    def enable_aggregates(self, *kinds: str) -> None:
        """Observables of this model may use these aggregates (``train``, ``test``, ``energy``)."""
        self.enabled_aggregates.update(kinds)

    def keyword_args(self, call: n.Call, spec: dict, what: str, extra=None) -> dict:
        """The keyword arguments of ``call`` (name -> required in ``spec``), in parameters."""
        if call.args:
            raise ModelError(
                f"{what} {call.func}() takes keyword arguments only ({', '.join(f'{k} = ...' for k in spec)})",
                call.args[0].loc,
                kind="bad-arguments",
            )
        out = {}
        resolve = self.resolver(f"the {what} arguments", ("param",), extra)
        for kw in call.keywords:
            if kw.name not in spec:
                raise ModelError(
                    f"{what} {call.func}() has no argument '{kw.name}'",
                    kw.loc,
                    kind="bad-arguments",
                    hint=did_you_mean(kw.name, spec) or "arguments: " + ", ".join(spec),
                )
            if kw.name in out:
                raise ModelError(f"argument '{kw.name}' given twice", kw.loc, kind="bad-arguments")
            out[kw.name] = to_sympy(kw.value, resolve)
        for name, required in spec.items():
            if required and name not in out:
                raise ModelError(f"{what} {call.func}() needs '{name} = ...'", call.loc, kind="bad-arguments")
        return out

    def law(self, expr: n.Expr, owner: str, allowed: tuple[str, ...]) -> sp.Expr:
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
                    raise ModelError(
                        "the variance of normal(mean, variance) is negative", call.args[1].loc, kind="bad-arguments"
                    )
                return mean + sp.sqrt(var) * symbol
            if call.func == "uniform":
                expect_arguments(call, 2, "2 arguments (low, high)")
                low, high = (convert(a) for a in call.args)
                return low + (high - low) * symbol
            expect_arguments(call, 0, "no arguments")
            return symbol

        return to_sympy(expr, self.resolver("a law", ("param",) + allowed), {law: primitive for law in RANDOM_LAWS})

    # ----------------------------------------------------------------------- common statements
    def _ModelDecl(self, s: n.ModelDecl):
        self.out["name"] = s.name

    def _ParamDecl(self, s: n.ParamDecl):
        value = to_sympy(s.value, self.resolver("a parameter value", ("param",)))
        symbol = self.symbol(s.name)
        self.define(s.name, s.name_loc, "param", symbol)
        self.params.append(Parameter(s.name, symbol, value, s.name_loc))

    def _LetDecl(self, s: n.LetDecl):
        """``let NAME = expr``: checked here (its names exist, it is per sample or per coordinate,
        not both, and it calls no special function), expanded where it is used."""
        self.define(s.name, s.name_loc, "definition", Definition(s.name, s.value, s.name_loc))
        self.unused[s.name] = s.name_loc
        first: dict[str, n.Name] = {}  # "per sample" / "per coordinate" -> its first name

        def side(node: n.Name, which: str, value):
            first.setdefault(which, node)
            other = next((k for k in first if k != which), None)
            if other is not None:
                raise ModelError(
                    f"'{node.id}' is {which}, but '{first[other].id}' is {other}: "
                    "a definition is per sample or per coordinate, not both",
                    node.loc,
                    kind="mixed-definition",
                )
            return value

        def resolve(node: n.Name) -> sp.Expr | Definition:
            if node.id == s.name:
                raise ModelError(f"'{s.name}' is defined in terms of itself", node.loc, kind="cyclic-definition")
            if node.id == "t":
                return STEP
            if node.id in self.sample_names:
                return side(node, "per sample", self.sample_names[node.id])
            binding = self.scope.get(node.id)
            if binding is None and node.id in self.lets and self._uses(node.id, s.name):
                raise ModelError(
                    f"'{s.name}' and '{node.id}' are defined in terms of each other",
                    node.loc,
                    kind="cyclic-definition",
                    hint="a definition uses only names defined before it",
                )
            if binding is None:
                return self.resolver("a definition", ())(node)  # the error for an unknown or reserved name
            if binding.kind == "definition":
                return self.use(binding)
            if binding.kind == "sample":
                return side(node, "per sample", binding.value)
            if binding.kind in ("weight", "state", "teacher", "signal", "const"):
                return side(node, "per coordinate", binding.value)
            if binding.kind != "param":
                raise ModelError(
                    f"'{node.id}' is {KIND_WORDS[binding.kind]} and cannot be used in a definition",
                    node.loc,
                    kind="wrong-kind",
                )
            return binding.value

        to_sympy(s.value, resolve)

    def _uses(self, later: str, name: str) -> bool:
        """Whether the definition ``later`` uses ``name``, directly or through other definitions."""
        seen, todo = set(), [later]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            body = self.lets[current].value
            if find_name(body, name) is not None:
                return True
            todo += [other for other in self.lets if find_name(body, other) is not None]
        return False

    def _WeightsDecl(self, s: n.WeightsDecl):
        # a warm start may use the teacher (data) or the signal (landscape): m0 * xstar + ...
        law = self.law(s.law, s.name, ("teacher", "signal", "const"))
        symbol = self.symbol(s.name)
        self.define(s.name, s.name_loc, "weight", symbol)
        self.weights.append(
            Variable(
                s.name,
                symbol,
                "weight",
                law,
                s.sphere,
                s.name_loc,
                format_expr(s.law) + (" on sphere" if s.sphere else ""),
                self._space_of(s),
            )
        )

    def _StateDecl(self, s: n.StateDecl):
        if s.copy:
            init = to_sympy(s.init, self.resolver("a state's initial value", ("param", "weight", "state", "const")))
            # in terms of the initial laws, so every initial value is a function of primitives
            init = init.subs({v.symbol: v.init for v in self.weights + self.states})
        else:
            init = self.law(s.init, s.name, ("teacher", "signal", "const"))
        symbol = self.symbol(s.name)
        self.define(s.name, s.name_loc, "state", symbol)
        text = ("= " if s.copy else "") + format_expr(s.init)
        self.states.append(Variable(s.name, symbol, "state", init, False, s.name_loc, text, self._space_of(s)))

    def _space_of(self, s) -> str | None:
        """The index space of ``weights w[n]`` / ``state v[n]`` (matrix programs only)."""
        if s.space is None:
            return None
        if not (self.model_class and self.model_class.uses_spaces):
            raise ModelError(
                f"'{s.name}[{s.space}]': index spaces are for matrix programs",
                s.space_loc,
                kind="misplaced-space",
                hint=f"write '{KEYWORD[type(s)]} {s.name} ...' without '[{s.space}]', or declare 'space {s.space}'",
            )
        binding = self.scope.get(s.space)
        if binding is None or binding.kind != "space":
            raise self.unknown(n.Name(s.space, loc=s.space_loc), ("space",))
        return s.space

    def _PenaltyDecl(self, s: n.PenaltyDecl):
        self.penalty = to_sympy(
            s.value, self.resolver("the penalty (a per-coordinate expression of the weights)", ("param", "weight"))
        )

    def _ObserveDecl(self, s: n.ObserveDecl):
        if s.name in OUTPUT_NAMES:
            raise ModelError(
                f"'{s.name}' is the name of a dataset variable dmftc writes", s.name_loc, kind="reserved-name"
            )
        if s.name in {o.name for o in self.observables}:
            first = next(o for o in self.observables if o.name == s.name)
            raise ModelError(
                f"observable '{s.name}' is already defined",
                s.name_loc,
                kind="duplicate-definition",
                hint=f"first defined on line {first.loc.line}",
            )
        aggregates: list[Aggregate] = []
        per_sample = self.resolver("train()/test() (per-sample names)", ("param", "sample"), self.sample_names)
        per_coordinate = self.resolver(
            "mean() (per-coordinate names)",
            ("param", "weight", "state", "teacher", "signal", "const"),
            # a matrix program observes the temporaries of its update too (at the step's start values)
            self.out.get("temporaries") if self.model_class and self.model_class.uses_spaces else None,
        )
        needs = classes.aggregate_requirements()

        def aggregate(call: n.Call | n.GradAt, convert) -> sp.Expr:
            if call.func not in self.enabled_aggregates:
                raise ModelError(f"{call.func}() needs {needs[call.func]}", call.loc, kind="misplaced-function")
            point = None
            if isinstance(call, n.GradAt):
                inner, point = self._test_at(call, per_sample)
            elif call.func == "energy":
                expect_arguments(call, 0, "no arguments")
                inner = sp.Integer(0)
            else:
                expect_arguments(call, 1, "one argument")
                inner = to_sympy(call.args[0], per_coordinate if call.func == "mean" else per_sample)
            symbol = aggregate_symbol(len(self.observables) * 100 + len(aggregates))
            aggregates.append(Aggregate(call.func, inner, symbol, point))
            return symbol

        outer = self.resolver(
            "an observable (use train(), test(), mean() or energy() around per-sample and per-coordinate names)",
            ("param",),
        )
        value = to_sympy(s.value, outer, {k: aggregate for k in ("mean", *needs)})
        if not aggregates:
            raise ModelError(
                "an observable needs train(), test(), mean() or energy()", s.value.loc, kind="bad-observable"
            )
        self.observables.append(Observable(s.name, value, tuple(aggregates), s.name_loc, format_expr(s.value)))

    def _test_at(self, call: n.GradAt, per_sample) -> tuple[sp.Expr, sp.Expr]:
        """``test(e at v)``: the per-sample ``e`` of a fresh sample whose prediction is ``x . v``,
        ``v`` per coordinate (weights, states, the teacher, parameters)."""
        if call.func != "test":
            raise ModelError(
                f"{call.func}() takes no point: only test(e at v) does (a fresh sample whose prediction is x . v)",
                call.loc,
                kind="misplaced-at",
            )
        if not self.model_class.test_at_points:
            raise ModelError(
                f"test(e at v) is not supported for {self.model_class.noun}", call.loc, kind="not-supported"
            )
        inner = to_sympy(n.Name(call.target, loc=call.target_loc), per_sample)
        kinds = ("param", "weight", "state", "teacher")
        return inner, to_sympy(call.point, self.resolver("the point v of test(e at v) (per-coordinate names)", kinds))

    # --------------------------------------------------------------------------- the update
    def _UpdateBlock(self, s: n.UpdateBlock):
        self._require_optimizer_context(s)
        env: dict[str, sp.Expr] = {v.name: v.symbol for v in self.weights + self.states}
        grads = _GradCollector(self)
        noises: list[sp.Symbol] = []
        assigned: set[str] = set()

        for a in s.assignments:
            binding = self.scope.get(a.target)
            handler = self.assignment_handlers.get(binding.kind) if binding is not None else None
            if handler is not None:
                handler(a, env, lambda expr, env_: self._update_expr(expr, env_, grads, noises, with_step=True))
                continue
            value = self._update_expr(a.value, env, grads, noises, with_step=True)
            if binding is not None and binding.kind not in ("weight", "state"):
                raise ModelError(
                    f"cannot assign to '{a.target}': it is {KIND_WORDS[binding.kind]}", a.loc, kind="bad-assignment"
                )
            if binding is None:
                self._check_new_name(a.target, a.loc)
            else:
                assigned.add(a.target)
            env[a.target] = value

        self._check_all_updated(assigned, s)
        self._store_temporaries(env)
        step_map = {v.symbol: env[v.name] for v in self.weights + self.states}
        self._store_dynamics("discrete", step_map, grads, noises)

    def _FlowBlock(self, s: n.FlowBlock):
        self._require_optimizer_context(s)
        env = {v.name: v.symbol for v in self.weights + self.states}
        grads = _GradCollector(self)
        noises: list[sp.Symbol] = []
        rates: dict[str, sp.Expr] = {}
        for eq in s.lines:
            if isinstance(eq, n.Assignment):
                self._flow_temporary(eq, env, grads, noises)
                continue
            binding = self.scope.get(eq.target)
            handler = self.assignment_handlers.get(binding.kind) if binding is not None else None
            if handler is not None:  # e.g. dW/dt of a trained matrix: its rate
                convert = lambda expr, env_: self._update_expr(expr, env_, grads, noises, with_step=False)  # noqa: E731
                handler(eq, env, convert, rate=True)
                continue
            if binding is None or binding.kind not in ("weight", "state"):
                what = KIND_WORDS[binding.kind] if binding else "not defined"
                raise ModelError(
                    f"d{eq.target}/dt: '{eq.target}' is {what}; a flow evolves weights and states",
                    eq.loc,
                    kind="bad-assignment",
                    hint=did_you_mean(eq.target, [v.name for v in self.weights + self.states]),
                )
            if eq.target in rates:
                raise ModelError(f"d{eq.target}/dt is given twice", eq.loc, kind="duplicate-definition")
            rate = self._update_expr(eq.value, env, grads, noises, with_step=False)
            if any(sp.diff(rate, z, 2) != 0 for z in noises):
                raise ModelError(
                    f"d{eq.target}/dt must be linear in gauss() (white noise)", eq.loc, kind="nonlinear-noise"
                )
            rates[eq.target] = rate
        self._check_all_updated(set(rates), s)
        self._store_temporaries(env)
        # Euler–Maruyama step of length dt: drift * dt + (noise coefficients) * sqrt(dt)
        step_map = {}
        for v in self.weights + self.states:
            rate = rates.get(v.name, sp.Integer(0))
            noise_part = sum((sp.diff(rate, z) * z for z in noises), sp.Integer(0))
            drift = sp.expand(rate - noise_part) if noises else rate
            step_map[v.symbol] = v.symbol + DT * drift + sp.sqrt(DT) * noise_part
        self._store_dynamics("continuous", step_map, grads, noises)

    def _store_temporaries(self, env: dict) -> None:
        """The block's temporaries (its names other than the weights and states), which the
        observables may use."""
        coordinates = {v.name for v in self.weights + self.states}
        self.out["temporaries"] = {name: value for name, value in env.items() if name not in coordinates}

    def _flow_temporary(self, a: n.Assignment, env: dict, grads: _GradCollector, noises: list) -> None:
        """``name = expr`` in a flow: a temporary evaluated at the current state, for the later
        lines and the observables. Weights and states change only through their derivatives."""
        binding = self.scope.get(a.target)
        if binding is not None:
            what = KIND_WORDS[binding.kind]
            hint = f"write d{a.target}/dt = ..." if binding.kind in ("weight", "state") else None
            raise ModelError(
                f"cannot assign to '{a.target}' in a flow: it is {what}", a.loc, kind="bad-assignment", hint=hint
            )
        self._check_new_name(a.target, a.loc)
        env[a.target] = self._update_expr(a.value, env, grads, noises, with_step=False)

    def _require_optimizer_context(self, s):
        if not self.weights and not (self.states and self.model_class and self.model_class.uses_spaces):
            raise ModelError("an update needs weights: add 'weights w ~ ...' before it", s.loc, kind="missing-weights")
        for key, message in self.required_before_update:
            if key not in self.out:
                raise ModelError(message, s.loc, kind=f"missing-{key}")

    def _check_new_name(self, name: str, loc: Location):
        if name.startswith("_") or name in self.reserved or name in MATH_FUNCTIONS:
            self.define(name, loc, "temporary", sp.Integer(0))  # raises the reserved-name error
        if name in self.declared_later:
            raise ModelError(
                f"'{name}' is defined later in the file and cannot be a temporary", loc, kind="duplicate-definition"
            )

    def _check_all_updated(self, assigned: set[str], s):
        for v in self.weights + self.states:
            if v.name not in assigned:
                role = "weight" if v.role == "weight" else "state"
                raise ModelError(
                    f"{role} '{v.name}' is never updated",
                    v.loc,
                    kind="never-updated",
                    hint=f"assign it in the {'flow' if isinstance(s, n.FlowBlock) else 'update'} block, or remove it",
                )

    def _update_expr(self, expr: n.Expr, env: dict, grads: _GradCollector, noises: list, with_step: bool) -> sp.Expr:
        where = "the update (a per-coordinate rule)"

        def resolve(node: n.Name) -> sp.Expr | Definition:
            if node.id in env:
                return env[node.id]
            if node.id == "t" and with_step:
                return STEP
            binding = self.scope.get(node.id)
            if binding is not None and binding.kind == "definition":
                return self.use(binding)
            if binding is not None and binding.kind in ("param", "const"):
                return binding.value
            if binding is not None and binding.kind in ("teacher", "signal"):
                raise ModelError(
                    f"the optimizer cannot see {KIND_WORDS[binding.kind].split(' (')[0]} '{node.id}'",
                    node.loc,
                    kind="wrong-kind",
                )
            if binding is not None and binding.kind == "matrix":
                raise ModelError(
                    f"the matrix '{node.id}' enters an update only as a product, '{node.id} . x'",
                    node.loc,
                    kind="wrong-kind",
                    hint=f"e.g. dx/dt = -({node.id} . x)",
                )
            if binding is not None:
                raise ModelError(
                    f"'{node.id}' is {KIND_WORDS[binding.kind]} and cannot be used in {where}",
                    node.loc,
                    kind="wrong-kind",
                    hint="an update is per coordinate: it sees weights, states, "
                    "parameters, temporaries, grad(), gauss() and t",
                )
            if node.id in self.reserved:
                raise ModelError(
                    f"'{node.id}' ({self.reserved[node.id]}) cannot be used in {where}", node.loc, kind="misplaced-name"
                )
            error = self.unknown(node)
            error.hint = did_you_mean(node.id, list(env) + [k for k, b in self.scope.items() if b.kind == "param"])
            raise error

        def gauss(call: n.Call, convert) -> sp.Expr:
            expect_arguments(call, 0, "no arguments")
            noises.append(noise_symbol(len(noises) + 1))
            return noises[-1]

        def grad(call, convert) -> sp.Expr:
            return grads.add(call, env, convert)

        specials = {"grad": grad, "gauss": gauss}
        specials |= {op: make(env) for op, make in self.update_specials.items()}
        return to_sympy(expr, resolve, specials)

    def _store_dynamics(self, time: str, step_map: dict, grads: _GradCollector, noises: list):
        self.out["time"] = time
        self.out["step_map"] = step_map
        self.out["grad_point"] = grads.point or {w.symbol: w.symbol for w in self.weights}
        self.out["noises"] = tuple(noises)
        self.out["uses_grad"] = bool(grads.point)

    def require_gradient(self, block) -> None:
        """For classes whose optimizer descends a loss or a landscape (handler API)."""
        if not self.out.get("uses_grad"):
            raise ModelError(
                "the update never uses grad(): the optimizer does not see the data", block.loc, kind="no-gradient"
            )

    # ------------------------------------------------------------------------------- finish
    def _finish(self, blocks) -> Model:
        cls = self.model_class
        if cls is None:
            examples = [c.example for c in classes.REGISTRY.values() if c.example]
            raise ModelError(
                "the model has no disorder: add "
                + ", ".join(f"'{e}'" for e in examples[:-1])
                + f" or '{examples[-1]}'",
                kind="missing-disorder",
            )
        for kind, loc in self.seen.items():
            if isinstance(kind, type) and kind not in COMMON_STATEMENTS | cls.statements:
                raise ModelError(f"'{KEYWORD[kind]}' does not belong to {cls.noun}", loc, kind="wrong-class")
        if not blocks:
            raise ModelError(
                "the model has no 'update:' or 'flow:' block",
                kind="missing-update",
                hint="add 'update:' with one indented line per assignment",
            )
        if not cls.allows_sphere and any(w.sphere for w in self.weights):
            w = next(w for w in self.weights if w.sphere)
            raise ModelError("'on sphere' is for landscape models", w.loc, kind="misplaced-sphere")
        if self.unused:
            name, loc = next(iter(self.unused.items()))  # the first in the file
            raise ModelError(
                f"'{name}' is defined but never used", loc, kind="unused-definition", hint="use it, or remove the 'let'"
            )
        spec = cls.finish(self, blocks[0])
        return Model(
            name=self.out["name"],
            path=self.filename,
            source=self.source,
            cls=cls.name,
            time=self.out["time"],
            params=tuple(self.params),
            weights=tuple(self.weights),
            states=tuple(self.states),
            primitives=tuple(self.primitives),
            step_map=self.out["step_map"],
            grad_point=self.out["grad_point"],
            noises=self.out["noises"],
            observables=tuple(self.observables),
            penalty=self.penalty,
            spec=spec,
        )


def _select_class(tree: n.ModelFile):
    """The model class selected by the first statement that defines one, and that statement;
    a second selecting statement of another kind is an error."""
    selected, selector = None, None
    for s in tree.statements:
        cls = next((c for c in classes.REGISTRY.values() if c.defines(s)), None)
        if cls is None:
            continue
        if selected is None:
            selected, selector = cls, s
        elif type(s) is not type(selector):  # the same statement twice: a duplicate, reported later
            raise ModelError(
                f"a model has either '{KEYWORD[type(selector)]}' or '{KEYWORD[type(s)]}', not both",
                s.loc,
                kind="two-disorders",
            )
    return selected, selector


class _GradCollector:
    """Collects the grad() calls of one step and checks they share one evaluation point."""

    def __init__(self, analyser: Analyser):
        self.analyser = analyser
        self.point: dict | None = None

    def add(self, call, env: dict, convert) -> sp.Expr:
        a = self.analyser
        weights = {w.name: w for w in a.weights}
        if isinstance(call, n.GradAt):
            target, target_loc = call.target, call.target_loc
        else:
            if call.keywords or len(call.args) != 1 or not isinstance(call.args[0], n.Name):
                raise ModelError("grad() takes one weight: grad(w) or grad(w at point)", call.loc, kind="bad-arguments")
            target, target_loc = call.args[0].id, call.args[0].loc
        if target not in weights:
            binding = a.scope.get(target)
            what = KIND_WORDS[binding.kind] if binding else ("a temporary" if target in env else "not defined")
            raise ModelError(
                f"grad({target}): '{target}' is {what}, not a weight",
                target_loc,
                kind="grad-of-non-weight",
                hint=did_you_mean(target, weights) or "grad() takes one of the weights: " + ", ".join(weights),
            )
        point = {w.symbol: w.symbol for w in a.weights}
        if isinstance(call, n.GradAt):
            point[weights[target].symbol] = convert(call.point)
            if point[weights[target].symbol].has(*[grad_symbol(w) for w in weights]):
                raise ModelError(
                    "the point of grad(... at point) cannot itself use grad()", call.point.loc, kind="bad-arguments"
                )
        if self.point is None:
            self.point = point
        elif any(sp.simplify(self.point[k] - point[k]) != 0 for k in point):
            raise ModelError(
                "all grad() calls of a step must be taken at the same point (one gradient evaluation per step)",
                call.loc,
                kind="two-gradient-points",
            )
        return grad_symbol(target)
