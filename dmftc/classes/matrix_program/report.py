"""Printing a matrix_program derivation (docs/math/matrix_program.md) as text, LaTeX or Markdown:
the spaces and matrices, the uses of one step, each space's single-site process with the field
and memory term of every use landing there (mp-field), and the closure (mp-noise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from dmftc.symbolic.report import Line, Notation, latex, latex_text, render_sections, setting_lines

if TYPE_CHECKING:
    from dmftc.classes.matrix_program.derive import ProgramDerivation


def _text(t: str) -> Notation:
    return Notation(t, r"\text{" + latex_text(t) + "}")


def field_names(d: ProgramDerivation) -> dict:
    """Field symbol -> a printable symbol: the update's temporary that holds it, else h<k>."""
    held = {value: name for name, value in d.spec.temporaries.items() if isinstance(value, sp.Symbol)}
    return {u.field: sp.Symbol(held.get(u.field, f"h{k + 1}"), real=True) for k, u in enumerate(d.spec.uses)}


def render_program_derivation(d: ProgramDerivation, fmt: str) -> str:
    m, spec = d.model, d.spec
    show = field_names(d)
    name = {u.field: str(show[u.field]) for u in spec.uses}

    def expr(e):
        return e.subs(show)

    def factor(kappa) -> tuple[str, str]:
        return ("", "") if kappa == 1 else (f"{kappa} ", latex(kappa) + r"\,")

    sections: list[tuple[str, list[Line]]] = []
    setting = [Line(s.name, s.name, s.ratio * sp.Symbol("N", positive=True), "sites") for s in spec.spaces]
    for a in spec.matrices:
        shape = f"[{a.rows}, {a.cols}] ~ {a.text}"
        note = f"entries N(0, var/N_{a.cols})"
        if a.square:
            note += f", E {a.name}_ij {a.name}_ji = corr var/N_{a.cols}"
        setting.append(Line(a.name, a.name, _text(shape), note))
    for t in spec.trainings:
        a = spec.matrix(t.matrix)
        change = " + ".join(f"({c}) outer({expr(u)}, {expr(v)})" for c, u, v in t.terms)
        tex = " + ".join(
            rf"\left({latex(c)}\right) \frac{{({latex(expr(u))})({latex(expr(v))})^\top}}{{N_{{{a.cols}}}}}"
            for c, u, v in t.terms
        )
        when = f"after use {t.position}" if t.position else "before use 1"
        note = f"{a.name} is trained {when} of every step (mp-trained); outer(u, v) = u vᵀ / N_{a.cols}"
        setting.append(Line(f"Δ{a.name}", rf"\Delta {latex(sp.Symbol(a.name))}", Notation(change, tex), note))
    setting += [Line(f"{c.name}[{c.space}]", latex(c.symbol), c.law, f"written {c.text}") for c in spec.constants]
    setting += setting_lines(m)
    sections.append(("Setting", setting))

    uses = []
    for k, u in enumerate(spec.uses):
        written = f"{u.matrix}'" if u.transpose else u.matrix
        matrix_tex = latex(sp.Symbol(u.matrix)) + (r"^\top" if u.transpose else "")
        note = f"use {k + 1}: {u.src} -> {u.tgt}" + (
            "; constant source: computed at the first step only" if u.frozen else ""
        )
        product = Notation(f"{written} . ({expr(u.source)})", rf"{matrix_tex}\,\left({latex(expr(u.source))}\right)")
        uses.append(Line(name[u.field], latex(show[u.field]), product, note))
    sections.append(("Uses of one step, in clock order (docs/math/matrix_program.md §1)", uses))

    step = "dt" if m.time == "continuous" else "1"
    for s in d.spaces:
        lines = []
        for k in s.fields:
            rule = d.rules[k]
            text = f"ξ{k + 1}"
            tex = rf"\xi_{{{k + 1}}}"
            src = spec.uses[k].src
            for j, kappa in rule.memory:
                source, of = expr(spec.uses[k].source), name[spec.uses[j].field]
                earlier = expr(spec.uses[j].source)
                plain, tex_factor = factor(kappa)
                text += f" + {plain}Σ_(s,{j + 1})<(t,{k + 1}) R_{src}[{source} ← {of}](t,s) ({earlier})(s)"
                tex += (
                    rf" + {tex_factor}\sum_{{(s,{j + 1})<(t,{k + 1})}} R_{{{src}}}\left[{latex(source)}\leftarrow "
                    rf"{latex(show[spec.uses[j].field])}\right](t,s)\,\left({latex(earlier)}\right)_s"
                )
            use = spec.uses[k]
            for t in (t for t in spec.trainings if t.matrix == use.matrix):
                a = spec.matrix(t.matrix)
                ratio = spec.space(a.rows).ratio / spec.space(a.cols).ratio
                for c, u, v in t.terms:  # mp-trained: W x gets c u E[v x], Wᵀ y gets c r v E[u y]
                    here, there = (v, u) if use.transpose else (u, v)
                    weight = c * ratio if use.transpose else c
                    where = a.rows if use.transpose else a.cols
                    source = expr(use.source)
                    upto = "≤" if t.position <= k else "<"  # this step's change comes before use k + 1
                    text += f" + Σ_s{upto}t ({weight}) ({expr(here)})(s) E_{where}[({expr(there)})(s) ({source})(t)]"
                    relation = r"\le" if upto == "≤" else "<"
                    tex += (
                        rf" + \sum_{{s {relation} t}} \left({latex(weight)}\right) ({latex(expr(here))})_s\,"
                        rf"\mathbb{{E}}_{{{where}}}\left[({latex(expr(there))})_s ({latex(source)})_t\right]"
                    )
            note = "mp-field" + (
                "" if rule.memory else ": no memory term (no use of this matrix lands in its source's space)"
            )
            if any(t.matrix == use.matrix for t in spec.trainings):
                note += f"; mp-trained: the changes of {use.matrix} made before this use"
            if rule.memory and spec.matrix(spec.uses[k].matrix).fresh:
                note += f"; {spec.uses[k].matrix} is drawn anew every step: the sum runs over this step only"
            field = spec.uses[k].field
            lines.append(Line(f"{name[field]}(t)", rf"{{{latex(show[field])}}}_t", Notation(text, tex), note))
        for v in s.coordinates:
            rule = expr(m.step_map[v.symbol])
            lines.append(
                Line(f"{v.name}(t+{step})", rf"{{{latex(v.symbol)}}}_{{t+{step}}}", rule, "right side at step t")
            )
        if lines:
            sections.append((f"Single-site process of space {s.name}", lines))

    closure = []
    for k, rule in enumerate(d.rules):
        for j, kappa in rule.covariance:
            if j < k:
                continue
            src = spec.uses[k].src
            a, b = expr(spec.uses[k].source), expr(spec.uses[j].source)
            pair = rf"\left({latex(a)}\right)_t\left({latex(b)}\right)_s"
            tex = rf"{factor(kappa)[1]}\mathbb{{E}}_{{{src}}}\left[{pair}\right]"
            closure.append(
                Line(
                    f"E[ξ{k + 1}(t) ξ{j + 1}(s)]",
                    rf"\mathbb{{E}}[\xi_{{{k + 1},t}}\,\xi_{{{j + 1},s}}]",
                    Notation(f"{factor(kappa)[0]}E_{src}[({a})(t) ({b})(s)]", tex),
                    "mp-noise"
                    + (
                        f"; zero for s ≠ t: {spec.uses[k].matrix} is drawn anew every step"
                        if spec.matrix(spec.uses[k].matrix).fresh
                        else ""
                    ),
                )
            )
    closure.append(
        Line(
            "R_b(e, f)",
            r"R_b(e,f)",
            Notation("E_b[∂x^e/∂h^f]", r"\mathbb{E}_b[\partial x^e/\partial h^f]"),
            "the response of use e's source to the field of an earlier use f landing in b: "
            "a total derivative through the dynamics, every ξ held fixed",
        )
    )
    sections.append(("Closure (docs/math/matrix_program.md §2)", closure))

    if d.linear:
        method = "exact: every variable is linear in the random inputs (docs/math/matrix_program.md §4.2)"
        if d.classes:
            held = ", ".join(c.name for c in d.spec.constants if c.law.has(*d.classes))
            method = (
                f"exact over site classes: linear once {held} (uniform) is held fixed, averaged over "
                "quadrature classes of it (docs/math/matrix_program.md §4.3)"
            )
    elif d.gaussian is not None:
        method = (
            f"Gaussian closure (docs/math/matrix_program.md §4.2): the state is linear and the sources "
            f"of uses {', '.join(str(k + 1) for k in d.gaussian)} are functions of one Gaussian argument "
            "(Gauss–Hermite quadrature)"
        )
    else:
        method = f"Monte Carlo forward pass (docs/math/matrix_program.md §4.1): {d.nonlinear_reason}"
    solution = [Line("closure", r"\text{closure}", _text(method))]
    if d.needs_responses and not d.linear:
        solution.append(Line("R", "R", _text("Jacobian propagation on the first samples of each space")))
    sections.append(("Solution method", solution))

    observe = []
    for o in m.observables:
        text_subs, latex_subs = {}, {}
        for g in o.aggregates:
            where = spec.observable_space[g.symbol]
            text_subs[g.symbol] = sp.Symbol(f"E_{where}[{sp.sstr(expr(g.expr))}]")
            latex_subs[g.symbol] = sp.Symbol(rf"\mathbb{{E}}_{{{where}}}\left[{latex(expr(g.expr))}\right]")
        rhs = o.expr.subs(text_subs) if fmt == "text" else Notation("", latex(o.expr.subs(latex_subs)))
        observe.append(Line(o.name, r"\text{" + latex_text(o.name) + "}", rhs, "at the step's start values"))
    sections.append(("Observables", observe))
    kind = "discrete time" if m.time == "discrete" else "continuous time"
    return render_sections(f"{m.name}: effective processes (matrix_program, {kind})", sections, m, fmt)
