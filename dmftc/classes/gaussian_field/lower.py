"""Lowering for the gaussian_field class: a derivation -> the plan and the generated module.

The model-specific scalar functions (landscape covariance and its derivatives, signal term,
site map of one coordinate, its affine coefficients, observables) are printed from sympy into
:class:`~dmftc.codegen.emitter.Function` values; the exact causal pass that uses them and the
helpers of the finite-size simulator are fixed text in ``templates/gaussian_field/``
(docs/math/gaussian_field.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp

from dmftc.classes.gaussian_field.derive import FORCE, FieldDerivation
from dmftc.codegen.emitter import Emitter, Function
from dmftc.codegen.interface import EntryPoint, EntryPoints, runtime_parameters
from dmftc.codegen.printer import NameTable, standard_names
from dmftc.codegen.render import GeneratedSource, render_module
from dmftc.language.symbols import OVERLAP_M, OVERLAP_Q, STEP

# The functions of the generated module that Python calls (dmftc.codegen.interface).
ENTRY_POINTS = EntryPoints(
    EntryPoint.declare("forward_pass_exact", "t0 t1 params G0 prim_mean ZC ZN U YC UY FC KXI C R M MU AGG OBS"),
    EntryPoint.declare("observe_aggregates", "t energy mean_values params AGG OBS"),
)


@dataclass(frozen=True)
class FieldPlan:
    """What the gaussian_field template and the runners need, besides the generated functions."""

    parameters: tuple[str, ...]  # runtime argument order (dt last for flows)
    coordinates: tuple[str, ...]
    primitive_laws: tuple[str, ...]
    n_noise: int
    mean: tuple[int, ...]  # indices of mean() aggregates in the aggregate vector
    energy: tuple[int, ...]  # indices of energy() aggregates
    observables: tuple[str, ...]
    linear: bool
    sphere: bool
    query_is_weight: bool
    entry: ClassVar[EntryPoints] = ENTRY_POINTS  # the functions Python calls


def generate_gaussian_field(d: FieldDerivation) -> tuple[GeneratedSource, FieldPlan]:
    m = d.model
    names = NameTable()
    standard_names(names, m, {m.spec.signal.name: m.spec.signal.symbol} if m.spec.signal else {})
    q_name = names.add(OVERLAP_Q, "q", internal=True)
    m_name = names.add(OVERLAP_M, "m", internal=True)
    force_name = names.add(FORCE, "F", internal=True)
    t_name = names[STEP]
    runtime = runtime_parameters(m)
    emit = Emitter(names, [(sym, i) for i, (sym, _) in enumerate(runtime)])
    z = list(d.coordinates)
    prims = [p.symbol for p in m.primitives]
    xstar = m.spec.signal.symbol if m.spec.signal else sp.Symbol("xstar_in", real=True)
    xstar_name = names.add(xstar, "xstar")

    def unpack(exprs, symbols, array) -> list[str]:
        used = set().union(*(sp.sympify(e).free_symbols for e in exprs)) if exprs else set()
        return [f"{names[s]} = {array}[{i}]" for i, s in enumerate(symbols) if s in used]

    def body(exprs, *arrays) -> list[str]:
        lines = emit.unpack_params(exprs)
        for symbols, array in arrays:
            lines += unpack(exprs, symbols, array)
        return lines

    functions: list[Function] = []

    def scalar(name, args, doc, expr, *arrays):
        f = Function(name, args, doc, body([expr], *arrays))
        f.lines += emit.assign(["value"], [expr], [sp.sstr(expr)])
        f.lines.append("return value")
        functions.append(f)

    def vector(name, args, doc, out, exprs, comments, *arrays):
        f = Function(name, args, doc, body(exprs, *arrays))
        f.lines += emit.assign([f"{out}[{i}]" for i in range(len(exprs))], exprs, comments)
        functions.append(f)

    Z, PRIM, NOISE = (z, "z"), (prims, "prim"), (list(m.noises), "noise")

    # -- landscape and signal (docs/math/gaussian_field.md §1)
    scalar("xi", [q_name, "params"], "f(q): E[H(x) H(x')] = N f(x.x'/N).", d.xi)
    scalar("xi_d1", [q_name, "params"], "f'(q): the covariance of the Gaussian force ξ.", d.xi_d1)
    scalar("xi_d2", [q_name, "params"], "f''(q): the memory kernel Σ = f''(C) R.", d.xi_d2)
    scalar("strength", [m_name, "params"], "f_s(m): the signal term is -N f_s(m).", d.strength)
    scalar("strength_d1", [m_name, "params"], "f_s'(m).", d.strength_d1)

    # -- one coordinate: initial value, query point, site map (used by the simulator)
    vector(
        "initial_state",
        ["prim", "params", "z"],
        "Initial values of the coordinates.",
        "z",
        list(d.initial_laws),
        [f"{v.name}(0) = {sp.sstr(law)}" for v, law in zip(m.coordinates, d.initial_laws)],
        PRIM,
    )
    scalar("query_point", ["z", t_name, "params"], "y: where the gradient is taken.", d.query, Z)
    site = [d.site_map[s] for s in z]
    vector(
        "site_step",
        ["z", force_name, "noise", t_name, "params", "z_next"],
        "One step of the site map Φ(z, F, noise, t), F = -∂H/∂x_i at the query point "
        "(before the projection on the sphere).",
        "z_next",
        site,
        [f"{s}(t+1) = {sp.sstr(e)}" for s, e in zip(z, site)],
        Z,
        NOISE,
    )

    # -- observables
    aggregates = [a for o in m.observables for a in o.aggregates]
    index = {a.symbol: i for i, a in enumerate(aggregates)}
    mean = [a for a in aggregates if a.kind == "mean"]
    energy = [a for a in aggregates if a.kind == "energy"]
    vector(
        "mean_integrands",
        ["z", xstar_name, "params", "out"],
        "Integrands of the mean() observables at one coordinate.",
        "out",
        [a.expr for a in mean],
        None,
        Z,
    )
    agg_symbols = {a.symbol: sp.Symbol(f"agg[{index[a.symbol]}]") for a in aggregates}
    for a in aggregates:
        names.add(agg_symbols[a.symbol], f"agg[{index[a.symbol]}]")
    vector(
        "combine",
        ["agg", "params", "out"],
        "Each observable from its aggregates.",
        "out",
        [o.expr.subs(agg_symbols) for o in m.observables],
        [f"{o.name} = {o.text}" for o in m.observables],
    )

    if d.linear:
        functions += _affine_functions(d, emit, z, prims, xstar, mean, force_name, t_name)

    plan = FieldPlan(
        parameters=tuple(name for _, name in runtime),
        coordinates=tuple(str(s) for s in z),
        primitive_laws=tuple(p.law for p in m.primitives),
        n_noise=len(m.noises),
        mean=tuple(index[a.symbol] for a in mean),
        energy=tuple(index[a.symbol] for a in energy),
        observables=tuple(o.name for o in m.observables),
        linear=d.linear,
        sphere=d.sphere,
        query_is_weight=d.query_is_weight,
    )
    generated = render_module(
        "gaussian_field/module.py.j2",
        m,
        functions,
        plan=plan,
    )
    return generated, plan


def _affine_functions(d: FieldDerivation, emit: Emitter, z, prims, xstar, mean, force_name, t_name) -> list[Function]:
    """Coefficients of the exact recursion: everything is affine in the Gaussian inputs."""
    m = d.model
    out: list[Function] = []

    def function(name, args, doc, targets, entries):
        f = Function(name, args, doc, emit.unpack_params(entries))
        f.lines += emit.assign(targets, entries, sparse=True) if entries else []
        out.append(f)

    # initial values: rows z_1..z_k over the basis (1, prim_1..prim_P)
    entries, targets = [], []
    for i, law in enumerate(d.initial_laws):
        entries.append(law.subs({p: 0 for p in prims}))
        targets.append(f"E[{i}, 0]")
        for j, p in enumerate(prims):
            entries.append(sp.diff(law, p))
            targets.append(f"E[{i}, {j + 1}]")
    function(
        "initial_affine", ["params", "E"], "Rows z_1..z_k as affine maps of (1, prim_1, ..., prim_P).", targets, entries
    )

    # y = cq[0] + cq[1:] . z
    entries = [d.query.subs({s: 0 for s in z})] + [sp.diff(d.query, s) for s in z]
    function(
        "query_affine",
        [t_name, "params", "cq"],
        "The query point y = cq[0] + cq[1:] . z.",
        [f"cq[{i}]" for i in range(len(entries))],
        entries,
    )

    # z(t+1) = A z + b F + Cn noise + d
    zero = {s: 0 for s in list(z) + [FORCE] + list(m.noises)}
    entries, targets = [], []
    for i, zi in enumerate(z):
        site = d.site_map[zi]
        for j, s in enumerate(z):
            entries.append(sp.diff(site, s))
            targets.append(f"A[{i}, {j}]")
        entries.append(sp.diff(site, FORCE))
        targets.append(f"b[{i}]")
        for j, noise in enumerate(m.noises):
            entries.append(sp.diff(site, noise))
            targets.append(f"Cn[{i}, {j}]")
        entries.append(site.subs(zero))
        targets.append(f"d[{i}]")
    function(
        "site_affine",
        [t_name, "params", "A", "b", "Cn", "d"],
        f"The affine site map z(t+1) = A z + b {force_name} + Cn noise + d.",
        targets,
        entries,
    )

    # mean() integrands as v'Qv + l'v + c, v = (z_1..z_k, x*)
    variables = list(z) + [xstar]
    zero_v = {v: 0 for v in variables}
    entries, targets = [], []
    for a_i, a in enumerate(mean):
        for i, vi in enumerate(variables):
            for j, vj in enumerate(variables):
                entries.append(sp.diff(a.expr, vi, vj) / 2)
                targets.append(f"Q[{a_i}, {i}, {j}]")
            entries.append(sp.diff(a.expr, vi).subs(zero_v))
            targets.append(f"l[{a_i}, {i}]")
        entries.append(a.expr.subs(zero_v))
        targets.append(f"c[{a_i}]")
    function(
        "mean_quadratic",
        ["params", "Q", "l", "c"],
        "mean() integrands as v'Qv + l'v + c, v = (coordinates, signal).",
        targets,
        entries,
    )
    return out
