"""``dmftc verify --against FILE``: the derivation compared with published equations.

The file has one ``name = expression`` a line (grammars/dmft.lark, start rule ``equations``);
names are the model's own, the class's derived quantities (``ModelClass.derived_quantities``) and
the fixed symbols of the effective processes (``Xtg``, ``sel``, ``t``, ``dt``, ``hstar``, ``eps``,
``c``). A derived quantity equals its published form when their difference simplifies to zero, or
rewritten in ``exp`` does, or, failing both, when they agree at random points (``equivalent``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from dmftc.errors import DmftcError, ModelError, did_you_mean
from dmftc.language import nodes as n
from dmftc.language.expressions import to_sympy
from dmftc.language.symbols import CLUSTER, DATA_FIELD, DT, EPS, HSTAR, SELECTION, STEP
from dmftc.language.syntax import parse, read_model_text
from dmftc.verify.checks import FAIL, PASS, Check


def published_form(dm, path: Path) -> list[Check]:
    """Compare the derived equations with a file of published ones (``name = expression`` a
    line): coordinates (their value after one step), ``theta`` (the query point), ``g`` (the
    loss gradient of the data side, ``sel`` its batch weight), the label's name, ``grad_<w>``.
    The right-hand sides may use the model's names and ``Xtg`` (the data field (X^T g)_i)."""
    model = dm.model
    text = read_model_text(Path(path))
    try:
        equations = parse(text, str(path), start="equations")
    except DmftcError as e:
        raise e.with_source(str(path), text) from None
    derived = dm.model_class.derived_quantities(dm)
    names = {p.name: p.symbol for p in model.params}
    names |= {v.name: v.symbol for v in model.coordinates}
    names |= {"Xtg": DATA_FIELD, "sel": SELECTION, "t": STEP, "dt": DT, "hstar": HSTAR, "eps": EPS, "c": CLUSTER}
    names |= dm.model_class.named_symbols(model)

    def resolve(node: n.Name) -> sp.Expr:
        if node.id not in names:
            raise ModelError(
                f"unknown name '{node.id}'", node.loc, kind="undefined-name", hint=did_you_mean(node.id, names)
            ).with_source(str(path), text)
        return names[node.id]

    checks = []
    for eq in equations:
        if eq.name not in derived:
            raise ModelError(
                f"'{eq.name}' is not a derived quantity",
                eq.loc,
                kind="undefined-name",
                hint=did_you_mean(eq.name, derived) or "derived quantities: " + ", ".join(derived),
            ).with_source(str(path), text)
        given = to_sympy(eq.value, resolve)
        ours = derived[eq.name]
        if not given.has(SELECTION):
            ours = ours.subs(SELECTION, 1)
        title = f"{eq.name} equals the published form"
        how = equivalent(ours, given)
        if how:
            checks.append(Check(title, PASS, f"{eq.name} = {sp.sstr(given)} ({how})"))
        else:
            terms = sp.Add.make_args(sp.expand(ours - given))
            checks.append(
                Check(
                    title,
                    FAIL,
                    f"derived {sp.sstr(ours)}; published {sp.sstr(given)}; "
                    f"derived - published = {' + '.join(map(sp.sstr, terms))}",
                )
            )
    return checks


POINTS = 40  # random points of the numerical comparison
TOLERANCE = 1e-9  # relative, at each point: rounding of a few dozen operations is far below


def equivalent(a: sp.Expr, b: sp.Expr) -> str | None:
    """How ``a`` and ``b`` were found equal ("symbolically", "after rewriting in exp", or
    "numerically at 40 random points"), or None when they differ. Equal expressions written in
    different functions (``sigmoid(u)`` and ``exp(u)/(1 + exp(u))``) need not simplify to the same
    form; evaluated at random points (a fixed seed) they agree to rounding."""
    difference = sp.expand(a - b)
    if sp.simplify(difference) == 0:
        return "symbolically"
    if sp.simplify(difference.rewrite(sp.exp)) == 0:
        return "after rewriting in exp"
    symbols = sorted(a.free_symbols | b.free_symbols, key=sp.default_sort_key)
    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(POINTS):
        point = {
            s: sp.Float(abs(x) + 0.1 if s.is_positive else x) for s, x in zip(symbols, rng.normal(size=len(symbols)))
        }
        value_a, value_b = complex(a.evalf(subs=point)), complex(b.evalf(subs=point))
        if not all(np.isfinite(v) and v.imag == 0 for v in (value_a, value_b)):
            continue  # outside the domain of one of them (a log of a negative number, ...)
        compared += 1
        if abs(value_a - value_b) > TOLERANCE * max(1.0, abs(value_a), abs(value_b)):
            return None
    return f"numerically at {compared} random points" if compared >= POINTS // 2 else None
