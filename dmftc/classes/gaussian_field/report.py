"""Printing a gaussian_field derivation (docs/math/gaussian_field.md §2–§3) as text, LaTeX or Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from dmftc.language.symbols import OVERLAP_M, OVERLAP_Q
from dmftc.symbolic.report import Line, Notation, latex, latex_base, latex_text, render_sections, setting_lines

if TYPE_CHECKING:
    from dmftc.classes.gaussian_field.derive import FieldDerivation

_T, _TP, _S = sp.Symbol("t", real=True), sp.Symbol("t'", real=True), sp.Symbol("s", real=True)
_C, _R, _MU, _M = sp.Function("C"), sp.Function("R"), sp.Function("mu"), sp.Function("m")


def _kernel(expr: sp.Expr, var: sp.Symbol, name: str) -> sp.Expr:
    """f'(q) -> f'(C(t,s)) as a symbol named after its argument, for Notation lines."""
    return expr.subs(var, sp.Symbol(name, real=True))


def render_field_derivation(d: FieldDerivation, fmt: str) -> str:
    m = d.model
    q = OVERLAP_Q
    sections: list[tuple[str, list[Line]]] = []

    landscape = [
        Line("f(q)", "f(q)", d.xi, "E[H(x) H(x')] = N f(x.x'/N)"),
        Line("f'(q)", "f'(q)", d.xi_d1),
        Line("f''(q)", "f''(q)", d.xi_d2),
    ]
    if d.has_signal:
        landscape += [
            Line("f_s(m)", "f_s(m)", d.strength, f"signal term -N f_s(m), m = x.{m.spec.signal.name}/N"),
            Line("f_s'(m)", "f_s'(m)", d.strength_d1),
            Line(
                m.spec.signal.name,
                m.spec.signal.name,
                Notation(
                    "N(0, 1) per coordinate (uniform on the sphere)",
                    r"\mathcal{N}(0,1)\ \text{per coordinate (uniform on the sphere)}",
                ),
            ),
        ]
    sections.append(("Landscape", landscape))

    setting = []
    setting.extend(setting_lines(m))
    sections.append(("Setting", setting))

    step = "dt" if m.time == "continuous" else "1"
    f2 = _kernel(d.xi_d2, q, "C(t,s)")
    f1 = _kernel(d.xi_d1, q, "C(t,s)")
    force_text = f"ξ(t) + Σ_{{s<t}} [{sp.sstr(f2)}] R(t,s) y(s)"
    force_latex = rf"\xi_t + \sum_{{s<t}} \left[{latex(f2)}\right] R(t,s)\, y_s"
    if d.has_signal:
        fs1 = _kernel(d.strength_d1, OVERLAP_M, "m(t)")
        force_text += f" + [{sp.sstr(fs1)}] {m.spec.signal.name}"
        force_latex += rf" + \left[{latex(fs1)}\right] {latex(m.spec.signal.symbol)}"
    process = [
        Line("y(t)", "y_t", d.query, "query point: where grad() is taken"),
        Line("F(t)", "F_t", Notation(force_text, force_latex), "-∂H/∂x_i at y(t), docs/math/gaussian_field.md §3"),
        Line("E[ξ(t) ξ(s)]", r"\mathbb{E}[\xi_t \xi_s]", f1),
        Line(f"grad({d.weight})", rf"\nabla_{{{latex(d.weight)}}}", d.gradient),
    ]
    for zk in d.coordinates:
        process.append(
            Line(
                f"{zk}(t+{step})",
                rf"{latex_base(zk)}_{{t+{step}}}",
                d.site_map[zk],
                "right side at step t" + (", before the projection" if d.sphere and zk == d.weight else ""),
            )
        )
    if d.sphere:
        w = latex_base(d.weight)
        process.append(
            Line(
                f"{d.weight}(t+{step})",
                rf"{w}_{{t+{step}}}",
                Notation(
                    f"{d.weight}(t+{step}) / sqrt(E[{d.weight}(t+{step})^2])",
                    rf"{w}_{{t+{step}}} / \sqrt{{\mathbb{{E}}[{w}_{{t+{step}}}^2]}}",
                ),
                "projection on the sphere, a deterministic factor",
            )
        )
    sections.append(("Effective process (one coordinate)", process))

    closure = [
        Line("C(t,s)", "C(t,s)", Notation("E[y(t) y(s)]", r"\mathbb{E}[y_t y_s]")),
        Line(
            "R(t,s)",
            "R(t,s)",
            Notation(
                "E[∂y(t)/∂ξ(s)],  s < t  (response to a force added at s)",
                r"\mathbb{E}[\partial y_t/\partial \xi_s],\ s<t",
            ),
        ),
    ]
    if d.has_signal:
        closure.append(
            Line(
                "m(t)",
                "m(t)",
                Notation(f"E[y(t) {m.spec.signal.name}]", rf"\mathbb{{E}}[y_t {latex(m.spec.signal.symbol)}]"),
            )
        )
    closure.append(
        Line(
            "mu(t)",
            r"\mu(t)",
            Notation(
                "E[y(t) F(t)]  (radial force: the Lagrange multiplier of the flow at T = 0)",
                r"\mathbb{E}[y_t F_t]\ \text{(radial force)}",
            ),
        )
    )
    sections.append(("Closure (docs/math/gaussian_field.md §3)", closure))

    method = []
    if d.linear:
        text = (
            "exact: every variable is a coefficient vector over (1, initial inputs, "
            + (f"{m.spec.signal.name}, " if d.has_signal else "")
            + "ξ(0..T), noises); C(t,s) = u(t)' G u(s) with G = f'(C) on the ξ block, "
            "R(t,s) = the ξ(s) entry of u(t); one causal O(T^3) pass, no sampling"
        )
    else:
        text = "not available (the exact recursion needs a linear process): " + "; ".join(d.not_linear_because)
    method.append(Line("discrete", r"\text{discrete}", Notation(text, r"\text{" + latex_text(text) + "}")))
    if m.time == "continuous":
        if d.ck_form:
            text = (
                "Cugliandolo–Kurchan equations below: uniform grid (Heun, h = dt) or "
                "adaptive step doubling (Kim–Latz) up to tmax"
            )
        else:
            text = f"Euler step of the flow with the discrete recursion ({d.not_ck_because})"
        method.append(Line("flow", r"\text{flow}", Notation(text, r"\text{" + latex_text(text) + "}")))
    sections.append(("Solution method", method))

    if m.time == "continuous" and d.ck_form:
        sections.append(("Continuous time (Cugliandolo–Kurchan, docs/math/gaussian_field.md §2), t > t'", _ck_lines(d)))

    observe = []
    energy = _kernel(d.xi_d1, q, "C_{xy}(t,s)")
    energy_text = f"-Σ_{{s<t}} [{sp.sstr(energy)}] R_x(t,s)"
    energy_latex = rf"-\sum_{{s<t}} \left[{latex(energy)}\right] R_x(t,s)"
    if d.has_signal:
        fs = _kernel(d.strength, OVERLAP_M, "m_{x}(t)")
        energy_text += f" - [{sp.sstr(fs)}]"
        energy_latex += rf" - \left[{latex(fs)}\right]"
    observe.append(
        Line(
            "energy()",
            r"\text{energy}()",
            Notation(energy_text, energy_latex),
            f"at the iterate {d.weight}: C_xy = E[{d.weight}(t) y(s)], R_x = E[∂{d.weight}(t)/∂ξ(s)]",
        )
    )
    for o in m.observables:
        text_subs, latex_subs = {}, {}
        for a in o.aggregates:
            if a.kind == "energy":
                text_subs[a.symbol] = sp.Symbol("e")
                latex_subs[a.symbol] = sp.Symbol("e")
            else:
                text_subs[a.symbol] = sp.Symbol(f"E_coord[{sp.sstr(a.expr)}]")
                latex_subs[a.symbol] = sp.Symbol(rf"\mathbb{{E}}_{{\text{{coord}}}}\left[{latex(a.expr)}\right]")
        rhs = o.expr.subs(text_subs) if fmt == "text" else Notation("", latex(o.expr.subs(latex_subs)))
        observe.append(Line(o.name, r"\text{" + latex_text(o.name) + "}", rhs))
    sections.append(("Observables", observe))

    kind = "discrete time" if m.time == "discrete" else "continuous time"
    return render_sections(f"{m.name}: effective process (gaussian_field, {kind})", sections, m, fmt)


def _ck_lines(d: FieldDerivation) -> list[Line]:
    """The equations of docs/math/gaussian_field.md §2 with f, c and T of the model substituted."""
    t, tp, s = _T, _TP, _S
    C, R, mu, m = _C, _R, _MU, _M
    c, T = d.mobility, d.temperature
    sigma = d.xi_d2.subs(OVERLAP_Q, C(t, s)) * R(t, s)
    dee = d.xi_d1.subs(OVERLAP_Q, C(t, s))
    spike_c = d.strength_d1.subs(OVERLAP_M, m(t)) * m(tp) if d.has_signal else 0
    dC = -mu(t) * C(t, tp) + c * (
        sp.Integral(sigma * C(s, tp), (s, 0, t)) + sp.Integral(dee * R(tp, s), (s, 0, tp)) + spike_c
    )
    dR = -mu(t) * R(t, tp) + c * sp.Integral(sigma * R(s, tp), (s, tp, t))
    radial = sp.Integral(d.xi_d2.subs(OVERLAP_Q, C(t, s)) * C(t, s) * R(t, s) + dee * R(t, s), (s, 0, t))
    spike_mu = (m(t) * d.strength_d1.subs(OVERLAP_M, m(t))) if d.has_signal else 0
    mu_t = T + c * (radial + spike_mu)
    energy = -sp.Integral(dee * R(t, s), (s, 0, t)) - (d.strength.subs(OVERLAP_M, m(t)) if d.has_signal else 0)
    lines = [
        Line("∂_t C(t,t')", r"\partial_t C(t,t')", dC),
        Line("∂_t R(t,t')", r"\partial_t R(t,t')", dR, f"R(t'+, t') = {sp.sstr(c)}"),
        Line("mu(t)", r"\mu(t)", mu_t, "keeps C(t,t) = 1"),
    ]
    if d.has_signal:
        dm = -mu(t) * m(t) + c * (d.strength_d1.subs(OVERLAP_M, m(t)) + sp.Integral(sigma * m(s), (s, 0, t)))
        lines.append(Line("∂_t m(t)", r"\partial_t m(t)", dm))
    lines.append(Line("e(t)", "e(t)", energy))
    return lines
