"""Printing a gaussian_data derivation (docs/math/gaussian_data.md §2) as text, LaTeX or Markdown."""

from __future__ import annotations

import sympy as sp

from dmftc.symbolic.report import Line, Notation, latex, latex_base, latex_text, render_sections, setting_lines


def render_data_derivation(d, fmt: str) -> str:
    m = d.model
    z = d.coordinates
    step = "dt" if m.time == "continuous" else "1"
    sections: list[tuple[str, list[Line]]] = []

    alpha = m.spec.data_args["ratio"]
    mixture = m.spec.data_kind == "mixture"
    setting = [Line("n / d", r"n/d", alpha, "samples per dimension; rows x ~ N(0, I/d)")]
    if mixture:
        delta, rho = m.spec.data_args["var"], m.spec.data_args["rho"]
        teacher = m.spec.teacher.name
        setting = [
            Line("n / d", r"n/d", alpha, f"samples per dimension; rows x = c {teacher}/d + N(0, Δ I/d)"),
            Line("Δ", r"\Delta", delta, "variance of the clusters"),
            Line("P(c = ±1)", r"P(c=\pm 1)", rho / 2, "each; c = 0 otherwise"),
        ]
    if m.spec.teacher:
        setting.append(
            Line(
                f"{m.spec.teacher.name}",
                latex(m.spec.teacher.symbol),
                m.spec.teacher.init,
                f"teacher law, written {m.spec.teacher.init_text}",
            )
        )
    setting.extend(setting_lines(m))
    if m.spec.batch is not None:
        setting.append(
            Line(
                "batch",
                r"\text{batch}",
                Notation(
                    f"{m.spec.batch.kind}({', '.join(map(str, m.spec.batch.args))})",
                    rf"\text{{{m.spec.batch.kind}}}({', '.join(latex(a) for a in m.spec.batch.args)})",
                ),
                "s̃ = s/b is the selection weight of a sample",
            )
        )
    sections.append(("Setting", setting))

    param = [
        Line("θ(t)", r"\theta_t", d.theta_query, "query point: where grad() is taken"),
    ]
    if d.has_look_ahead:
        param.append(Line("Θ(t)", r"\Theta_t", d.theta_obs, "the predictor's weights at the iterate (observables)"))
    if mixture:  # docs/math/gaussian_data.md §9.1
        param.append(
            Line(
                "Xᵀg(t)",
                r"(X^{\top} g)_t",
                Notation(
                    f"ν(t) + α Δ Σ_{{s≤t}} R_g(t,s) θ(s) + α E[c g(t)] {m.spec.teacher.name},   ν ~ GP(0, α Δ C_g)",
                    r"\nu_t + \alpha\Delta \sum_{s\le t} R_g(t,s)\,\theta_s + \alpha\,\mathbb{E}[c\,g_t]\, v^{*},"
                    r"\quad \nu \sim \mathcal{GP}(0, \alpha\Delta C_g)",
                ),
            )
        )
    else:
        param.append(
            Line(
                "Xᵀg(t)",
                r"(X^{\top} g)_t",
                Notation(
                    "ν(t) + α Σ_{s≤t} R_g(t,s) θ(s) + α R_g(t,*) wstar,   ν ~ GP(0, α C_g)",
                    r"\nu_t + \alpha \sum_{s\le t} R_g(t,s)\,\theta_s + \alpha R_g(t,*)\, w^{*},"
                    r"\quad \nu \sim \mathcal{GP}(0, \alpha C_g)",
                ),
            )
        )
    for w, g in d.gradients.items():
        param.append(Line(f"grad({w})", rf"\nabla_{{{latex(w)}}}", g))
    for zk in z:
        param.append(Line(f"{zk}(t+{step})", rf"{latex_base(zk)}_{{t+{step}}}", d.site_map[zk], "right side at step t"))
    param.append(Line("∂F/∂z", r"\partial F/\partial z", d.jacobian_z))
    param.append(Line("∂F/∂Xᵀg", r"\partial F/\partial (X^{\top}g)", d.jacobian_q))
    sections.append(("Parameter side (one coordinate)", param))

    if mixture:
        data = [
            Line(
                "ω(0..T)",
                r"(\omega_0, \dots, \omega_T)",
                Notation(
                    "GP(0, Δ C_θ), independent of the cluster c,  eps ~ N(0, 1)",
                    r"\mathcal{GP}(0, \Delta C_\theta),\quad \varepsilon \sim \mathcal{N}(0,1)",
                ),
            )
        ]
        field = Notation(
            f"c m(t) + ω(t) + Δ Σ_{{s<t}} R_θ(t,s) g(s),   m(t) = E[θ(t) {m.spec.teacher.name}]",
            r"c\,m_t + \omega_t + \Delta\sum_{s<t} R_\theta(t,s)\, g_s",
        )
    else:
        data = [
            Line(
                "(ω*, ω(0..T))",
                r"(\omega_*, \omega_0, \dots, \omega_T)",
                Notation(
                    "GP(0, C_θ),  hstar = ω*,  eps ~ N(0, 1)",
                    r"\mathcal{GP}(0, C_\theta),\quad h^{*} = \omega_*,\quad \varepsilon \sim \mathcal{N}(0,1)",
                ),
            )
        ]
        field = Notation("ω(t) + Σ_{s<t} R_θ(t,s) g(s)", r"\omega_t + \sum_{s<t} R_\theta(t,s)\, g_s")
    if d.label is not None:
        data.append(Line(m.spec.label_name, latex(m.spec.y), d.label, "label"))
    data.append(Line(f"{m.spec.predict_name}(t)", rf"{latex_base(m.spec.h)}_t", field, "Onsager memory term"))
    data.append(Line("g(t)", "g_t", d.loss_grad, "s̃ = 1 without mini-batches"))
    data.append(Line("∂g/∂h", r"\partial g/\partial h", d.loss_grad_dh))
    if not mixture:
        data.append(
            Line("∂g/∂hstar", r"\partial g/\partial h^{*}", d.loss_grad_dhstar, "at fixed h, through the label")
        )
    sections.append(("Data side (one sample)", data))

    closure = [
        Line(
            "C_θ(a,b)",
            r"C_\theta(a,b)",
            Notation(
                "E[θ(a) θ(b)],  a, b ∈ {*, 0..T},  θ(*) = wstar",
                r"\mathbb{E}[\theta_a\theta_b],\ a,b\in\{*,0..T\},\ \theta_* = w^*",
            ),
        ),
        Line(
            "R_θ(t,s)",
            r"R_\theta(t,s)",
            Notation("E[∂θ(t)/∂ν(s)],  s < t", r"\mathbb{E}[\partial\theta_t/\partial\nu_s],\ s<t"),
        ),
        Line("C_g(t,s)", r"C_g(t,s)", Notation("E[g(t) g(s)]", r"\mathbb{E}[g_t g_s]")),
        Line(
            "R_g(t,s)",
            r"R_g(t,s)",
            Notation(
                "E[∂g(t)/∂ω(s)],  s ≤ t  (total derivative)", r"\mathbb{E}[\partial g_t/\partial\omega_s],\ s\le t"
            ),
        ),
    ]
    if mixture:
        closure.append(
            Line(
                "E[c g(t)]",
                r"\mathbb{E}[c\,g_t]",
                Notation("the force along the cluster direction", r"\text{force along the cluster direction}"),
            )
        )
    else:
        closure.append(
            Line(
                "R_g(t,*)",
                r"R_g(t,*)",
                Notation(
                    "E[∂g(t)/∂ω*]  (ω(0..T) fixed, the label moves)", r"\mathbb{E}[\partial g_t/\partial\omega_*]"
                ),
            )
        )
    sections.append(("Closure (docs/math/gaussian_data.md §2)", closure))

    method = []
    if d.exact:
        method.append(
            Line(
                "closure",
                r"\text{closure}",
                Notation(
                    "exact Gaussian: every variable is linear in the Gaussian inputs (docs/math/gaussian_data.md §5)",
                    r"\text{exact Gaussian (docs/math/gaussian\_data.md \S 5)}",
                ),
            )
        )
    else:
        why = "; ".join(d.not_exact_because)
        method.append(
            Line(
                "closure",
                r"\text{closure}",
                Notation(
                    f"Monte Carlo forward pass (docs/math/gaussian_data.md §3): {why}",
                    r"\text{Monte Carlo forward pass: " + latex_text(why) + "}",
                ),
            )
        )
    param_resp = (
        "Jacobian propagation, the same for every sample"
        if d.param_deterministic
        else "Jacobian propagation per sample"
        if d.param_smooth
        else "Stein's lemma (the site map has no pointwise derivative)"
    )
    data_resp = "Jacobian propagation" if d.data_smooth else "Stein's lemma (∂g/∂h has a delta)"
    teacher_resp = "Jacobian" if d.label_smooth else "Stein's lemma on ω* (the label has no pointwise derivative)"
    responses = [("R_θ", param_resp), ("R_g", data_resp)] + ([] if mixture else [("R_g(·,*)", teacher_resp)])
    for lhs, text in responses:
        method.append(
            Line(
                lhs,
                lhs.replace("θ", r"\theta").replace("·", r"\cdot"),
                Notation(text, r"\text{" + latex_text(text) + "}"),
            )
        )
    sections.append(("Solution method", method))

    observe = []
    expectation = {
        "train": ("E_data", r"\mathbb{E}_{\text{train}}"),
        "test": ("E_fresh", r"\mathbb{E}_{\text{test}}"),
        "mean": ("E_param", r"\mathbb{E}_{\text{coord}}"),
        "energy": ("e", "e"),
    }
    for o in m.observables:
        expr = o.expr
        text_subs, latex_subs = {}, {}
        for a in o.aggregates:
            t_name, l_name = expectation[a.kind]
            # test(e at v): the fresh sample's prediction is x . v
            at = "" if a.point is None else f" | {m.spec.h} = x·{sp.sstr(a.point)}"
            at_latex = "" if a.point is None else rf" \mid {latex(m.spec.h)} = x \cdot {latex(a.point)}"
            text_subs[a.symbol] = sp.Symbol(f"{t_name}[{sp.sstr(a.expr)}{at}]")
            latex_subs[a.symbol] = sp.Symbol(rf"{l_name}\left[{latex(a.expr)}{at_latex}\right]")
        if fmt == "text":
            rhs = expr.subs(text_subs)
        else:
            rhs = Notation("", latex(expr.subs(latex_subs)))
        observe.append(Line(o.name, r"\text{" + latex_text(o.name) + "}", rhs))
    sections.append(("Observables", observe))

    kind = "discrete time" if m.time == "discrete" else "continuous time, Euler step dt"
    title = f"{m.name}: effective processes (gaussian_data, {kind})"
    return render_sections(title, sections, m, fmt)
