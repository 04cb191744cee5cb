"""``dmftc verify --against FILE``: the derivation compared with published equations.

The file has one ``name = expression`` a line (grammars/dmft.lark, start rule ``equations``);
names are the model's own, the class's derived quantities (``ModelClass.derived_quantities``) and
the fixed symbols of the effective processes (``Xtg``, ``sel``, ``t``, ``dt``, ``hstar``, ``eps``,
``c``). A derived quantity equals its published form when their difference simplifies to zero.
"""

from __future__ import annotations

from pathlib import Path

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
        difference = sp.simplify(sp.expand(ours - given))
        title = f"{eq.name} equals the published form"
        if difference == 0:
            checks.append(Check(title, PASS, f"{eq.name} = {sp.sstr(given)}"))
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
