"""Lowering for the gaussian_data class: a derivation -> the plan and the generated module.

This prints the model-specific scalar functions (site map, its Jacobians, loss gradient, label,
observable integrands, and the affine coefficients used by the exact closure) into
:class:`~dmftc.codegen.emitter.Function` values. The causal forward pass that calls them is fixed
text in ``templates/gaussian_data/`` (docs/math/gaussian_data.md §3–§5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp

from dmftc.classes.gaussian_data.derive import DataDerivation
from dmftc.codegen.emitter import Emitter, Function, affine_entries, quadratic_entries
from dmftc.codegen.interface import EntryPoint, EntryPoints, runtime_parameters
from dmftc.codegen.printer import NameTable, standard_names
from dmftc.codegen.render import GeneratedSource, parallel_threads, render_module
from dmftc.language.symbols import DATA_FIELD, EPS, HSTAR, SELECTION, STEP

# The functions of the generated module that Python calls (dmftc.codegen.interface).
ENTRY_POINTS = EntryPoints(
    EntryPoint.declare("initialize", "PRIM XI_D0 CLUSTER EPS params Z WSTAR LATENT Y C_th L_th"),
    EntryPoint.declare(
        "forward_pass",
        "t0 t1 params alpha delta mix_rho param_method data_method XI_P XI_D XI_O EPS SEL NOISE "
        "nodes weights Z Z_NEXT WSTAR LATENT Y TH G H H_OBS C_th L_th C_g L_g R_th R_g R_gs R_obs DZ DTH dz dth "
        "DG DGS AGG OBS",
    ),
    EntryPoint.declare(
        "forward_pass_coarse",
        "t0 t1 params alpha delta resolution XI_P XI_D EPS nodes weights WIDX Z Z_NEXT WSTAR LATENT Y NS SID FREE "
        "NF STEP PIN TH NU OM G Cd Dd Ct Ld Cg Dg Lg R_th R_g dz dth dth_next DG DGS R_gs C_ths AGG OBS C_thw C_gw "
        "R_thw R_gw",
    ),
    EntryPoint.declare(
        "forward_pass_exact",
        "t0 t1 params alpha G0 prim_mean nodes weights ZC WSC THC TOC GC C_th C_g R_th R_g R_gs AGG OBS ZH",
    ),
    EntryPoint.declare("simulate_run", "X CLUSTER PRIM EPS SEL NOISE delta mix_rho nodes weights params T OBS"),
)


@dataclass(frozen=True)
class DataPlan:
    """What the gaussian_data template needs, besides the generated functions."""

    parameters: tuple[str, ...]  # runtime argument order (dt last for flows)
    coordinates: tuple[str, ...]
    primitive_laws: tuple[str, ...]  # law of each primitive, in prim[] order
    n_noise: int
    train: tuple[int, ...]  # indices of train() aggregates in the aggregate vector
    test: tuple[int, ...]
    test_points: tuple[int, ...]  # of each test() aggregate: 0 at the predictor, p at the p-th v of test(e at v)
    n_points: int  # the distinct vectors v of test(e at v)
    mean: tuple[int, ...]
    observables: tuple[str, ...]
    look_ahead: bool
    param_smooth: bool
    param_deterministic: bool
    data_smooth: bool
    label_smooth: bool
    exact: bool
    uses_eps: bool  # the label or an integrand depends on eps
    test_smooth: bool  # every test() and train() integrand has pointwise derivatives
    mixture: bool  # Gaussian-mixture data (the latent variable is the cluster)
    step_dependent: bool  # the site map or θ depends on the step (a schedule)
    not_exact_because: tuple[str, ...]  # why the exact closure does not apply (empty: it does)
    not_coarse_because: tuple[str, ...]  # why the decimated history does not (§5.3; empty: it does)
    entry: ClassVar[EntryPoints] = ENTRY_POINTS  # the functions Python calls


def generate_gaussian_data(d: DataDerivation) -> tuple[GeneratedSource, DataPlan]:
    m = d.model
    threads = parallel_threads()
    names = NameTable()
    standard_names(names, m, m.spec.named_symbols())
    runtime = runtime_parameters(m)
    emit = Emitter(names, [(sym, i) for i, (sym, _) in enumerate(runtime)])
    z = list(d.coordinates)
    prims = [p.symbol for p in m.primitives]
    wstar = m.spec.teacher.symbol if m.spec.teacher else sp.Symbol("wstar_in", real=True)
    teacher_name = names.add(wstar, "wstar")
    # the names that signatures give symbols (a model's own names may have been renamed)
    h_, y_, xtg, t_, eps = names[m.spec.h], names[m.spec.y], names[DATA_FIELD], names[STEP], names[EPS]
    h, y = m.spec.h, m.spec.y
    label = d.label if d.label is not None else sp.Integer(0)
    mixture = m.spec.data_kind == "mixture"

    def unpack_z(exprs) -> list[str]:
        used = set().union(*(sp.sympify(e).free_symbols for e in exprs)) if exprs else set()
        return [f"{names[s]} = z[{i}]" for i, s in enumerate(z) if s in used]

    def unpack_prim(exprs) -> list[str]:
        used = set().union(*(sp.sympify(e).free_symbols for e in exprs)) if exprs else set()
        return [f"{names[s]} = prim[{i}]" for i, s in enumerate(prims) if s in used]

    def unpack_noise(exprs) -> list[str]:
        used = set().union(*(sp.sympify(e).free_symbols for e in exprs)) if exprs else set()
        return [f"{names[s]} = noise[{i}]" for i, s in enumerate(m.noises) if s in used]

    def body(exprs, *unpackers) -> list[str]:
        lines = emit.unpack_params(exprs)
        for unpack in unpackers:
            lines += unpack(exprs)
        return lines

    functions: list[Function] = []

    def scalar(name, args, doc, expr, *unpackers):
        f = Function(name, args, doc, body([expr], *unpackers))
        f.lines += emit.assign(["value"], [expr], [f"{sp.sstr(expr)}"])
        f.lines.append("return value")
        functions.append(f)

    def vector(name, args, doc, out, exprs, comments, *unpackers):
        f = Function(name, args, doc, body(exprs, *unpackers))
        f.lines += emit.assign([f"{out}[{i}]" for i in range(len(exprs))], exprs, comments)
        functions.append(f)

    # -- parameter side
    teacher_law = m.spec.teacher.init if m.spec.teacher else sp.Integer(0)
    scalar("teacher", ["prim", "params"], "The teacher's value at one coordinate.", teacher_law, unpack_prim)
    inits = [v.init for v in m.coordinates]
    vector(
        "initial_state",
        ["prim", teacher_name, "params", "z"],
        "Initial values of the coordinates.",
        "z",
        inits,
        [f"{v.name}(0) = {sp.sstr(v.init)}" for v in m.coordinates],
        unpack_prim,
    )
    scalar(
        "theta_query",
        ["z", t_, "params"],
        "The predictor's weight where the gradient is taken.",
        d.theta_query,
        unpack_z,
    )
    vector("theta_query_grad", ["z", t_, "params", "out"], "∂θ/∂z.", "out", list(d.theta_query_grad), None, unpack_z)
    if d.has_look_ahead:
        scalar(
            "theta_obs",
            ["z", "params"],
            "The predictor's weight at the iterate (for observables).",
            d.theta_obs,
            unpack_z,
        )
        vector(
            "theta_obs_grad",
            ["z", "params", "out"],
            "∂Θ/∂z at the iterate.",
            "out",
            list(d.theta_obs_grad),
            None,
            unpack_z,
        )
    site = [d.site_map[s] for s in z]
    vector(
        "site_step",
        ["z", xtg, "noise", t_, "params", "z_next"],
        "One step of the site map F(z, Xᵀg, noise, t) of one coordinate.",
        "z_next",
        site,
        [f"{s}(t+1) = {sp.sstr(e)}" for s, e in zip(z, site)],
        unpack_z,
        unpack_noise,
    )
    if d.param_smooth:
        entries = list(d.jacobian_z) + list(d.jacobian_q)
        k = len(z)
        targets = [f"jz[{i}, {j}]" for i in range(k) for j in range(k)] + [f"jq[{i}]" for i in range(k)]
        f = Function(
            "site_jacobian",
            ["z", xtg, "noise", t_, "params", "jz", "jq"],
            "∂F/∂z and ∂F/∂Xᵀg.",
            body(entries, unpack_z, unpack_noise),
        )
        f.lines += emit.assign(targets, entries, sparse=True)
        functions.append(f)

    # -- data side
    sel = names[SELECTION]
    latent = names[m.spec.latent]  # hstar, or c for mixture data
    scalar("label", [latent, eps, "params"], "The label of a sample.", label)
    scalar("loss_grad", [h_, y_, sel, "params"], "g = sel ∂loss/∂h.", d.loss_grad)
    if d.data_smooth:
        scalar("loss_grad_dh", [h_, y_, sel, "params"], "∂g/∂h.", d.loss_grad_dh)
        # the forward pass needs both at every sample: one function shares their subexpressions
        pair = [d.loss_grad, d.loss_grad_dh]
        f = Function("loss_grad_with_dh", [h_, y_, sel, "params"], "g and ∂g/∂h together.", body(pair))
        f.lines += emit.assign(["g", "g_h"], pair)
        f.lines.append("return g, g_h")
        functions.append(f)
    if d.label_smooth:
        scalar(
            "loss_grad_dhstar",
            [h_, names[HSTAR], eps, sel, "params"],
            "∂g/∂hstar at fixed h (through the label).",
            d.loss_grad_dhstar,
        )

    # -- observables
    aggregates = [a for o in m.observables for a in o.aggregates]
    index = {a.symbol: i for i, a in enumerate(aggregates)}
    train = [a for a in aggregates if a.kind == "train"]
    test = [a for a in aggregates if a.kind == "test"]
    mean = [a for a in aggregates if a.kind == "mean"]
    points = list(dict.fromkeys(a.point for a in test if a.point is not None))
    for kind, items in (("train", train), ("test", test)):
        exprs = [a.expr for a in items]
        vector(
            f"{kind}_integrands",
            [h_, y_, latent, eps, "params", "out"],
            f"Integrands of the {kind}() observables at one sample.",
            "out",
            exprs,
            None,
        )
    vector(
        "mean_integrands",
        ["z", teacher_name, "params", "out"],
        "Integrands of the mean() observables at one coordinate.",
        "out",
        [a.expr for a in mean],
        None,
        unpack_z,
    )
    if points:
        vector(
            "test_points",
            ["z", teacher_name, "params", "out"],
            "The vectors v of test(e at v) at one coordinate.",
            "out",
            points,
            [f"v{p + 1} = {sp.sstr(v)}" for p, v in enumerate(points)],
            unpack_z,
        )
    agg_symbols = {a.symbol: sp.Symbol(f"agg[{index[a.symbol]}]") for a in aggregates}
    for a in aggregates:
        names.add(agg_symbols[a.symbol], f"agg[{index[a.symbol]}]")
    combined = [o.expr.subs(agg_symbols) for o in m.observables]
    vector(
        "combine",
        ["agg", "params", "out"],
        "Each observable from its aggregates.",
        "out",
        combined,
        [f"{o.name} = {o.text}" for o in m.observables],
    )

    # -- coefficients of the exact Gaussian closure (docs/math/gaussian_data.md §5)
    if d.exact:
        functions += _affine_functions(d, emit, z, prims, wstar, label, mean, points)

    plan = DataPlan(
        parameters=tuple(name for _, name in runtime),
        coordinates=tuple(str(s) for s in z),
        primitive_laws=tuple(p.law for p in m.primitives),
        n_noise=len(m.noises),
        train=tuple(index[a.symbol] for a in train),
        test=tuple(index[a.symbol] for a in test),
        test_points=tuple(0 if a.point is None else 1 + points.index(a.point) for a in test),
        n_points=len(points),
        mean=tuple(index[a.symbol] for a in mean),
        observables=tuple(o.name for o in m.observables),
        look_ahead=d.has_look_ahead,
        param_smooth=d.param_smooth,
        param_deterministic=d.param_deterministic,
        data_smooth=d.data_smooth,
        label_smooth=d.label_smooth,
        exact=d.exact,
        uses_eps=label.has(EPS) or any(a.expr.has(EPS) for a in train + test),
        # the cluster of mixture data is summed over exactly, not integrated
        test_smooth=all(
            _smooth_in(a.expr.subs(y, label), [h, EPS] if mixture else [h, HSTAR, EPS]) for a in train + test
        ),
        mixture=mixture,
        step_dependent=any(e.has(STEP) for e in [*d.site_map.values(), d.theta_query, d.theta_obs]),
        not_exact_because=d.not_exact_because,
        not_coarse_because=_not_coarse_because(d, mixture),
    )
    generated = render_module(
        "gaussian_data/module.py.j2",
        m,
        functions,
        plan=plan,
        numba_threads=threads,
        parallel_decorator="@functools.partial(jit, parallel=True)" if threads else "@jit",
    )
    return generated, plan


def _not_coarse_because(d: DataDerivation, mixture: bool) -> tuple[str, ...]:
    """Why the Monte-Carlo pass on a decimated history (docs/math/gaussian_data.md §5.3) does not
    apply. It forgets most past steps, which is safe only where the fields vary smoothly along
    the run (no fresh randomness per step), and it carries the Jacobian responses of a
    deterministic parameter side and a smooth loss."""
    reasons = {
        "the batch selections change every step": d.model.spec.batch is not None,
        "the update draws noise every step": bool(d.model.noises),
        "it is written for teacher data, not for mixtures": mixture,
        "the gradient is taken away from the iterate (look-ahead)": d.has_look_ahead,
        "its parameter side needs per-sample Jacobians (a non-linear update), which it does not carry": (
            not d.param_deterministic
        ),
        "its loss has no pointwise derivative (a sign, a step or a hinge) for the Jacobian responses": (
            not d.data_smooth
        ),
    }
    return tuple(reason for reason, applies in reasons.items() if applies)


def _smooth_in(expr: sp.Expr, variables) -> bool:
    return not any(sp.diff(expr, v).has(sp.DiracDelta) for v in variables)


def _affine_functions(d: DataDerivation, emit: Emitter, z, prims, wstar, label, mean, points) -> list[Function]:
    m = d.model
    out: list[Function] = []
    zero = {s: 0 for s in list(z) + [DATA_FIELD] + list(m.noises)}

    # z(t+1) = A z + b Xᵀg + Cn noise + d
    site = [d.site_map[s] for s in z]
    entries, targets = [], []
    for i, F in enumerate(site):
        for j, s in enumerate(z):
            entries.append(sp.diff(F, s))
            targets.append(f"A[{i}, {j}]")
        entries.append(sp.diff(F, DATA_FIELD))
        targets.append(f"b[{i}]")
        for j, noise in enumerate(m.noises):
            entries.append(sp.diff(F, noise))
            targets.append(f"Cn[{i}, {j}]")
        entries.append(F.subs(zero))
        targets.append(f"d[{i}]")
    out.append(
        _entry_table(
            emit,
            "site_affine",
            [emit.names[STEP], "params", "A", "b", "Cn", "d"],
            "The affine site map z(t+1) = A z + b Xᵀg + Cn noise + d.",
            targets,
            entries,
        )
    )

    # θ = cq[0] + cq[1:] . z, Θ = co[0] + co[1:] . z
    entries, targets = [], []
    for name, theta in (("cq", d.theta_query), ("co", d.theta_obs)):
        entries.append(theta.subs({s: 0 for s in z}))
        targets.append(f"{name}[0]")
        for j, s in enumerate(z):
            entries.append(sp.diff(theta, s))
            targets.append(f"{name}[{j + 1}]")
    out.append(
        _entry_table(
            emit,
            "theta_affine",
            [emit.names[STEP], "params", "cq", "co"],
            "Affine coefficients of θ and Θ in z.",
            targets,
            entries,
        )
    )

    # g = a_h h + a_y y + a_0 (sel = 1), y = c_h hstar + c_e eps + c_0
    h, y = m.spec.h, m.spec.y
    g = d.loss_grad.subs(SELECTION, 1)
    entries = [
        sp.diff(g, h),
        sp.diff(g, y),
        g.subs({h: 0, y: 0}),
        sp.diff(label, HSTAR),
        sp.diff(label, EPS),
        label.subs({HSTAR: 0, EPS: 0}),
    ]
    f = Function(
        "data_affine",
        ["params", "out"],
        "g = out[0] h + out[1] y + out[2];  y = out[3] hstar + out[4] eps + out[5].",
        emit.unpack_params(entries),
    )
    f.lines += emit.assign([f"out[{i}]" for i in range(6)], entries)
    out.append(f)

    # initial values and teacher: rows z_1..z_k, wstar over the basis (1, prim_1..prim_P)
    teacher_law = m.spec.teacher.init if m.spec.teacher else sp.Integer(0)
    laws = [v.init.subs(wstar, teacher_law) for v in m.coordinates] + [teacher_law]
    targets, entries = affine_entries(laws, prims, "E[{}, {}]")
    out.append(
        _entry_table(
            emit,
            "initial_affine",
            ["params", "E"],
            "Rows z_1..z_k and wstar as affine maps of (1, prim_1, ..., prim_P).",
            targets,
            entries,
        )
    )

    # mean() integrands as quadratic forms in v = (z_1..z_k, wstar): v'Qv + l'v + c
    variables = list(z) + [wstar]
    targets, entries = quadratic_entries([a.expr for a in mean], variables)
    out.append(
        _entry_table(
            emit,
            "mean_quadratic",
            ["params", "Q", "l", "c"],
            "mean() integrands as v'Qv + l'v + c, v = (coordinates, wstar).",
            targets,
            entries,
        )
    )

    # the vectors of test(e at v): v = cp[p, 0] + cp[p, 1:k+1] . z + cp[p, k+1] wstar
    if points:
        targets, entries = affine_entries(points, variables, "cp[{}, {}]")
        out.append(
            _entry_table(
                emit,
                "point_affine",
                ["params", "cp"],
                "The vectors of test(e at v) as cp[p, 0] + cp[p, 1:k+1] . z + cp[p, k+1] wstar.",
                targets,
                entries,
            )
        )
    return out


def _entry_table(emit: Emitter, name: str, args: list[str], doc: str, targets, entries) -> Function:
    """A generated function that fills an array's nonzero entries (sparse assignments)."""
    f = Function(name, args, doc, emit.unpack_params(entries))
    f.lines += emit.assign(targets, entries, sparse=True) if entries else []
    return f
