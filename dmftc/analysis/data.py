"""The statements of data models, shared by the classes ``gaussian_data`` and ``matrix_sgd``:
``data``, ``teacher``, ``label``, ``predict``, ``loss`` and ``batch``, and their specification
:class:`DataSpec` (docs/language.md §1, §2 and §8).

The handlers are called by the analysis driver with the analyser (its handler interface is
documented in :class:`dmftc.analysis.driver.Analyser`) and the statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from dmftc.analysis.model import Variable
from dmftc.errors import ModelError, require_known
from dmftc.language import nodes as n
from dmftc.language.expressions import to_sympy
from dmftc.language.nodes import find_name, format_expr
from dmftc.language.symbols import CLUSTER, EPS, HSTAR

# The keyword arguments of each `data` kind: name -> required. mixture(ratio, var, rho): rows
# x = c w*/d + N(0, var I/d) with cluster c = +1 or -1 with probability rho/2 each, else 0
# (two clusters when rho = 1; Mignacco et al. 2020); the teacher is the direction of the means.
# online(dim): fresh samples every step, the class matrix_sgd.
DATA_KINDS = {
    "gaussian": {"ratio": True},
    "mixture": {"ratio": True, "var": False, "rho": False},
    "online": {"dim": True},
}
DATA_DEFAULTS = {"mixture": {"var": sp.Integer(1), "rho": sp.Integer(1)}}
DATA_STATEMENTS = frozenset({n.DataDecl, n.TeacherDecl, n.LabelDecl, n.PredictDecl, n.LossDecl, n.BatchDecl})


@dataclass(frozen=True)
class Batch:
    kind: str  # fraction | epochs | persistent | size
    args: tuple[sp.Expr, ...]  # in parameters


@dataclass(frozen=True)
class DataSpec:
    """A data model: the data, the teacher, the label, the prediction, the loss, the batch."""

    data_kind: str  # gaussian | mixture | online
    data_args: dict = field(default_factory=dict)  # keyword -> sympy in parameters
    teacher: Variable | None = None
    label_name: str | None = None
    label: sp.Expr | None = None  # y in hstar (or c), eps, parameters
    label_text: str = ""
    predict_name: str = ""
    theta: sp.Expr | None = None  # the predictor's per-coordinate weight: h = x . theta
    loss: sp.Expr | None = None  # per-sample loss in h, y, parameters
    batch: Batch | None = None

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

    def named_symbols(self) -> dict:
        names = {self.predict_name: self.h}
        if self.teacher:
            names[self.teacher.name] = self.teacher.symbol
        if self.label_name:
            names[self.label_name] = self.y
        return names

    def summary_rows(self) -> list[tuple[str, str, str]]:
        rows = [("data", self.data_kind, ", ".join(f"{k} = {v}" for k, v in self.data_args.items()))]
        if self.teacher:
            rows.append(("teacher", self.teacher.name, self.teacher.init_text))
        if self.label is not None:
            rows.append(("label", self.label_name, self.label_text))
        if self.batch:
            rows.append(("batch", self.batch.kind, ", ".join(map(str, self.batch.args))))
        return rows


def reserved_names(data: n.DataDecl) -> tuple[str, ...]:
    """The per-sample names of a data model; a landscape model conventionally calls its weights x."""
    return ("x", "eps", "loss", "c" if data.call.func == "mixture" else "hstar")


def data_spec(a, block) -> DataSpec:
    """The specification, once every statement is analysed (missing statements are errors)."""
    out = a.out
    for key, word in (("predict_name", "predict"), ("loss", "loss")):
        if key not in out:
            raise ModelError(f"a 'data' model needs a '{word}' statement", kind=f"missing-{word}")
    return DataSpec(
        data_kind=out["data_kind"],
        data_args=out["data_args"],
        teacher=out.get("teacher"),
        label_name=out.get("label_name"),
        label=out.get("label"),
        label_text=out.get("label_text", ""),
        predict_name=out["predict_name"],
        theta=out["theta"],
        loss=out["loss"],
        batch=out.get("batch"),
    )


# ------------------------------------------------------------------------------ the handlers


def data_statement(a, s: n.DataDecl):
    call = s.call
    require_known(call, DATA_KINDS, "data model", "data models", "unknown-data")
    a.out["data_kind"] = call.func
    a.out["data_args"] = DATA_DEFAULTS.get(call.func, {}) | a.keyword_args(call, DATA_KINDS[call.func], "data")
    a.sample_names |= {"c": CLUSTER, "eps": EPS} if call.func == "mixture" else {"hstar": HSTAR, "eps": EPS}
    a.enable_aggregates("train", "test")
    a.required_before_update.append(("loss", "the update needs a 'loss' before it"))


def teacher_statement(a, s: n.TeacherDecl):
    law = a.law(s.law, s.name, ())
    symbol = a.symbol(s.name)
    a.define(s.name, s.name_loc, "teacher", symbol)
    a.out["teacher"] = Variable(s.name, symbol, "teacher", law, False, s.name_loc, format_expr(s.law))


def label_statement(a, s: n.LabelDecl):
    if "data_kind" not in a.out:
        raise ModelError("'label' needs a 'data' statement before it", s.loc, kind="missing-data")
    teacher = a.out.get("teacher")
    if a.out["data_kind"] == "mixture" and teacher is None:
        raise ModelError(
            "mixture data needs a teacher: the direction of the cluster means",
            s.loc,
            kind="missing-teacher",
            hint="add 'teacher vstar ~ normal(0, 1)' before the label",
        )
    if teacher is None and find_name(s.value, "hstar") is not None:
        raise ModelError(
            "'hstar' needs a teacher",
            find_name(s.value, "hstar").loc,
            kind="missing-teacher",
            hint="add 'teacher wstar ~ normal(0, 1)' before the label",
        )
    # without a teacher there is no hstar (a definition using it is an error where it is used)
    latent = {k: v for k, v in a.sample_names.items() if k != "loss" and (teacher or k != "hstar")}
    value = to_sympy(s.value, a.resolver("the label (a per-sample expression)", ("param",), latent))
    a.define(s.name, s.name_loc, "sample", a.symbol(s.name))
    a.out["label_name"], a.out["label"] = s.name, value
    a.out["label_text"] = format_expr(s.value)


def predict_statement(a, s: n.PredictDecl):
    if "data_kind" not in a.out:
        raise ModelError("'predict' needs a 'data' statement before it", s.loc, kind="missing-data")
    e = s.value
    if not (isinstance(e, n.Binary) and e.op == "."):
        raise ModelError(
            "the prediction must be exactly 'x . e' (e.g. 'predict h = x . w'): dmftc "
            "handles linear predictors of the data",
            e.loc,
            kind="bad-predict",
        )
    if not (isinstance(e.left, n.Name) and e.left.id == "x"):
        raise ModelError("the prediction is 'x . e' with the data vector x on the left", e.left.loc, kind="bad-predict")
    theta = to_sympy(e.right, a.resolver("the weight side of 'x . e' (per coordinate)", ("param", "weight")))
    if not theta.free_symbols & {w.symbol for w in a.weights}:
        raise ModelError("'x . e' must involve the weights", e.right.loc, kind="bad-predict")
    a.define(s.name, s.name_loc, "sample", a.symbol(s.name))
    a.out["predict_name"], a.out["theta"] = s.name, theta


def loss_statement(a, s: n.LossDecl):
    if "predict_name" not in a.out:
        raise ModelError("'loss' needs a 'predict' statement before it", s.loc, kind="missing-predict")
    for name in a.sample_names:
        found = find_name(s.value, name)
        if found is not None:
            raise ModelError(
                f"the loss cannot use '{name}' directly: the optimizer sees only the prediction and the label",
                found.loc,
                kind="misplaced-name",
            )
    value = to_sympy(s.value, a.resolver("the loss (a per-sample expression)", ("param", "sample")))
    if a.out["predict_name"] not in {str(x) for x in value.free_symbols}:
        raise ModelError(
            f"the loss does not depend on the prediction '{a.out['predict_name']}'", s.value.loc, kind="bad-loss"
        )
    a.out["loss"] = value
    a.sample_names["loss"] = value  # observables may use the loss: train(loss)


def batch_statement(a, s: n.BatchDecl):
    resolve = a.resolver("the batch", ("param",))
    args = tuple(to_sympy(arg, resolve) for arg in s.args)
    for value, node in zip(args, s.args):
        if value.is_positive is False:
            raise ModelError("batch arguments must be positive", node.loc, kind="bad-arguments")
    if s.kind in ("fraction", "epochs") and (args[0] - 1).is_positive:
        raise ModelError(f"the batch {s.kind} must be in (0, 1]", s.args[0].loc, kind="bad-arguments")
    a.out["batch"] = Batch(s.kind, args)


HANDLERS = {
    n.DataDecl: data_statement,
    n.TeacherDecl: teacher_statement,
    n.LabelDecl: label_statement,
    n.PredictDecl: predict_statement,
    n.LossDecl: loss_statement,
    n.BatchDecl: batch_statement,
}
