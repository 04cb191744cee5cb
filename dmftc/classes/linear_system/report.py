"""Printing a linear_system derivation (docs/math/linear_system.md) as text, LaTeX or Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from dmftc.classes.linear_system.analysis import LAMBDA
from dmftc.symbolic.report import Line, Notation, latex, latex_base, latex_text, render_sections, setting_lines

if TYPE_CHECKING:
    from dmftc.classes.linear_system.derive import LinearDerivation

_DENSITY = {
    "goe": ("semicircle ρ(λ) = sqrt(4 var - λ^2) / (2 π var)", r"\rho(\lambda) = \frac{\sqrt{4v - \lambda^2}}{2\pi v}"),
    "ginibre": (
        "circular law: uniform on the disc |λ| ≤ sqrt(var) (not normal: the spectrum fixes R, not C)",
        r"\text{circular law on } |\lambda|\le\sqrt{v}\ \text{(not normal: fixes } R\text{, not } C)",
    ),
    "rf_drive": (
        "free product of two Marchenko–Pastur laws (not tabulated); F S is not normal",
        r"\text{free product of two Marchenko--Pastur laws; } FS \text{ is not normal}",
    ),
    "rf_drive_hermitian": (
        "free product of two Marchenko–Pastur laws (not tabulated)",
        r"\text{free product of two Marchenko--Pastur laws}",
    ),
    "wishart": (
        "Marchenko–Pastur, q = 1/ratio: (1 - ratio)_+ δ(λ) + sqrt((λ+ - λ)(λ - λ-)) / (2 π q λ), λ± = (1 ± sqrt(q))^2",
        r"(1-\alpha)_+\delta(\lambda) + \frac{\sqrt{(\lambda_+-\lambda)(\lambda-\lambda_-)}}{2\pi q\lambda},"
        r"\ \lambda_\pm = (1\pm\sqrt q)^2,\ q = 1/\alpha",
    ),
}

_CAVITY = {
    "goe": (
        "u(t) + var Σ_{s<t} χ(t,s) θ(s),   u ~ GP(0, var C_θ)",
        r"u_t + v\sum_{s<t}\chi(t,s)\,\theta_s,\quad u\sim\mathcal{GP}(0, v\,C_\theta)",
    ),
    "ginibre": (
        "u(t),   u ~ GP(0, var C_θ)   (M_ij and M_ji independent: no memory)",
        r"u_t,\quad u\sim\mathcal{GP}(0, v\,C_\theta)",
    ),
    "wishart": (
        "ν(t) + Σ_{s≤t} ψ(t,s) θ(s),   ν ~ GP(0, C_h)",
        r"\nu_t + \sum_{s\le t}\psi(t,s)\,\theta_s,\quad \nu\sim\mathcal{GP}(0, C_h)",
    ),
}


def _text(t: str, latex: str | None = None) -> Notation:
    return Notation(t, latex if latex is not None else r"\text{" + latex_text(t) + "}")


def render_linear_derivation(d: LinearDerivation, fmt: str) -> str:
    m = d.model
    law = d.law
    step = "dt" if m.time == "continuous" else "1"
    sections: list[tuple[str, list[Line]]] = []

    matrix = [Line(law.name, law.name, _text(law.text), "N x N")]
    if law.ensemble == "spectrum":
        e = law.eigenvalues
        base = {
            "atoms": f"equal weights on {', '.join(map(str, e.atoms))}",
            "uniform": "U(0, 1)",
            "normal": "N(0, 1)",
            "rademacher": "±1",
        }[e.kind]
        matrix.append(
            Line(
                "λ",
                r"\lambda",
                e.shift + e.scale * sp.Symbol("P"),
                f"eigenvalue law, P ~ {base}; M = O diag(λ) Oᵀ, O Haar",
            )
        )
    else:
        for key, value in law.args.items():
            matrix.append(Line(key, key, value))
        matrix.append(Line("ρ(λ)", r"\rho(\lambda)", _text(*_DENSITY[law.ensemble])))
    sections.append(("Matrix", matrix))

    sections.append(("Setting", setting_lines(m)))

    process = [Line("θ(t)", r"\theta_t", d.query, f"the vector multiplied by {law.name}")]
    for zk in d.coordinates:
        process.append(
            Line(
                f"{zk}(t+{step})",
                rf"{latex_base(zk)}_{{t+{step}}}",
                d.site_map[zk],
                f"{d.product} = ({law.name}θ)_i at step t",
            )
        )
    if law.ensemble in _CAVITY:
        process.append(
            Line(
                f"({law.name}θ)(t)",
                rf"({law.name}\theta)_t",
                _text(*_CAVITY[law.ensemble]),
                "cavity field and memory, docs/math/linear_system.md §2-§3",
            )
        )
    if law.ensemble == "wishart":
        process.append(
            Line(
                "h(t)",
                "h_t",
                _text(
                    "ω(t) + q Σ_{s<t} χ(t,s) h(s),   ω ~ GP(0, q C_θ),   q = 1/ratio",
                    r"\omega_t + q\sum_{s<t}\chi(t,s)\,h_s,\quad \omega\sim\mathcal{GP}(0, q\,C_\theta)",
                ),
                "one row of Ψ/√P applied to θ",
            )
        )
    sections.append(("Effective process (one coordinate)", process))

    closure = [
        Line("C_θ(t,s)", r"C_\theta(t,s)", _text("E[θ(t) θ(s)]", r"\mathbb{E}[\theta_t\theta_s]")),
        Line(
            "χ(t,s)",
            r"\chi(t,s)",
            _text(
                "E[∂θ(t)/∂u(s)],  s < t  (u: the field of the product)",
                r"\mathbb{E}[\partial\theta_t/\partial u_s],\ s<t",
            ),
        ),
        Line(
            "R(t,s)",
            "R(t,s)",
            _text(
                f"E[∂{d.weight}(t)/∂{d.weight}(s)],  s ≤ t  (kick response, R(t,t) = 1)",
                rf"\mathbb{{E}}[\partial {d.weight}_t/\partial {d.weight}_s],\ s\le t",
            ),
        ),
    ]
    if law.ensemble == "wishart":
        closure += [
            Line("C_h(t,s)", "C_h(t,s)", _text("E[h(t) h(s)]", r"\mathbb{E}[h_t h_s]")),
            Line(
                "ψ(t,s)",
                r"\psi(t,s)",
                _text("E[∂h(t)/∂ω(s)],  s ≤ t  (ψ(t,t) = 1)", r"\mathbb{E}[\partial h_t/\partial\omega_s]"),
            ),
        ]
    sections.append(("Closure", closure))

    spectral = []
    if law.normal or law.ensemble == "ginibre":
        spectral.append(Line("P(λ)", r"P(\lambda)", d.mode_map, "one step of an eigen-direction of M"))
        if d.rates is not None:
            L, ell, _, _ = d.rates
            spectral.append(
                Line(
                    "G(λ)",
                    r"G(\lambda)",
                    L + LAMBDA * ell * d.query_coefficients.T,
                    "its rate: exp((t - s) G(λ)) for the flow",
                )
            )
        what, what_latex = (
            ("P(λ)^(t-s)", r"P(\lambda)^{t-s}") if d.rates is None else ("exp((t-s) G(λ))", r"e^{(t-s)G(\lambda)}")
        )
        spectral.append(
            Line(
                "R(t,s)",
                "R(t,s)",
                _text(
                    f"∫ ρ(λ) [{what}]_{d.weight},{d.weight} dλ"
                    + (
                        "  (ginibre: the integrand at λ = 0, mean-value property on the disc)" if not law.normal else ""
                    ),
                    rf"\int \rho(\lambda)\,[{what_latex}]_{{{d.weight}{d.weight}}}\,d\lambda",
                ),
            )
        )
        if d.rates is not None and len(d.coordinates) == 1:
            G = (d.rates[0] + LAMBDA * d.rates[1] * d.query_coefficients.T)[0, 0]
            spectral.append(
                Line(
                    "R̃(s)",
                    r"\tilde R(s)",
                    _text(
                        f"∫_0^∞ e^(-s τ) R(τ) dτ = ∫ ρ(λ) / (s - ({sp.sstr(G)})) dλ",
                        rf"\int_0^\infty e^{{-s\tau}}R(\tau)\,d\tau = "
                        rf"\int \frac{{\rho(\lambda)\,d\lambda}}{{s - ({latex(G)})}}",
                    ),
                    "the resolvent (1/N) Tr (s - G(M))^-1",
                )
            )
    sections.append(("Spectral form", spectral))

    method = [
        Line(
            "dmft",
            r"\text{dmft}",
            _text(
                "coefficient vectors over (1, initial inputs | fields u(0..T) | kicks | noises); C = u' G u with "
                "G = the second moments of the inputs; one causal O(T^3) pass, no sampling"
                if law.ensemble in _CAVITY
                else "not available: the cavity memory of a general rotation-invariant "
                "matrix is a series of its free cumulants"
            ),
        )
    ]
    method.append(
        Line(
            "spectral",
            r"\text{spectral}",
            _text(
                "not available (no tabulated density): dmftc simulate"
                if law.ensemble.startswith("rf_drive")
                else "exact integrals over ρ (Gauss rules), exact in time for flows"
                if law.normal
                else "R only (C of a non-normal matrix is not a function of its spectrum)"
            ),
        )
    )
    if m.time == "continuous":
        method.append(
            Line(
                "flow",
                r"\text{flow}",
                _text(
                    "dmft: one Euler step of length dt per step (first order in dt); "
                    "simulation and spectral: exact in time"
                ),
            )
        )
    sections.append(("Solution method", method))

    observe = []
    for o in m.observables:
        text_subs = {a.symbol: sp.Symbol(f"E_coord[{sp.sstr(a.expr)}]") for a in o.aggregates}
        latex_subs = {
            a.symbol: sp.Symbol(rf"\mathbb{{E}}_{{\text{{coord}}}}\left[{latex(a.expr)}\right]") for a in o.aggregates
        }
        rhs = o.expr.subs(text_subs) if fmt == "text" else Notation("", latex(o.expr.subs(latex_subs)))
        observe.append(Line(o.name, r"\text{" + latex_text(o.name) + "}", rhs))
    sections.append(("Observables", observe))

    kind = "discrete time" if m.time == "discrete" else "continuous time, Euler step dt"
    return render_sections(f"{m.name}: effective process (linear_system, {law.ensemble}, {kind})", sections, m, fmt)
