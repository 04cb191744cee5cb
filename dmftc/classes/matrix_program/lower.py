"""Lowering for the matrix_program class: a derivation -> the generated module.

Every per-site rule of the program becomes a numba function over the sites (or samples) of its
space, with its partial derivatives for the Jacobian pass of the Monte-Carlo solver
(docs/math/matrix_program.md §4.1): the source of each use, the update of each space, the laws
of the constants and starts, the integrands of the observables. A linear program also gets the
affine coefficients of each rule over the random inputs of its space (§4.2). The solver, the
exact closure and the finite-size simulator (dmftc/classes/matrix_program/) call these same
functions, so the three can only differ by the matrix products.

Per space the arrays are ``Z`` (sites x coordinates), ``K`` (constants), ``H`` (the fields of the
step's uses landing there), ``E`` (noises of the step), ``PR`` (random primitives of the laws).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.classes.matrix_program.derive import ARGUMENT, ProgramDerivation
from dmftc.codegen.emitter import Emitter, Function, affine_entries, quadratic_entries
from dmftc.codegen.interface import runtime_parameters
from dmftc.codegen.printer import NameTable, standard_names
from dmftc.codegen.render import GeneratedSource, render_module
from dmftc.language.symbols import STEP


@dataclass(frozen=True)
class SpacePlan:
    name: str
    coordinates: tuple[str, ...]
    constants: tuple[str, ...]
    fields: tuple[int, ...]  # uses landing here (column order of H)
    sources: tuple[int, ...]
    n_noise: int
    primitive_laws: tuple[str, ...]
    aggregates: tuple[int, ...]  # indices into the aggregate vector of the mean() computed here
    classed: tuple[int, ...] = ()  # primitives held fixed per site class in the exact closure (§4.3)


@dataclass(frozen=True)
class ProgramPlan:
    parameters: tuple[str, ...]
    spaces: tuple[SpacePlan, ...]
    observables: tuple[str, ...]
    n_aggregates: int
    linear: bool
    gaussian: tuple[int, ...]  # uses whose source is f(u) in the Gaussian closure

    def space(self, name: str) -> SpacePlan:
        return next(s for s in self.spaces if s.name == name)


def generate_matrix_program(d: ProgramDerivation) -> tuple[GeneratedSource, ProgramPlan]:
    m, spec = d.model, d.spec
    names = NameTable()
    standard_names(names, m, {c.name: c.symbol for c in spec.constants})
    field_names = {value: name for name, value in spec.temporaries.items() if isinstance(value, sp.Symbol)}
    for k, u in enumerate(spec.uses, start=1):
        names.add(u.field, field_names.get(u.field, f"h{k}_{u.matrix}{'t' if u.transpose else ''}"))
    t_name = names[STEP]
    names.add(ARGUMENT, "u_", internal=True)
    runtime = runtime_parameters(m)
    emit = Emitter(names, [(sym, i) for i, (sym, _) in enumerate(runtime)])
    functions: list[Function] = []
    aggregates = [g for o in m.observables for g in o.aggregates]
    index = {g.symbol: i for i, g in enumerate(aggregates)}
    laws = {c.symbol: c.law for c in spec.constants}

    spaces = []
    for s in d.spaces:
        Z = [v.symbol for v in s.coordinates]
        K = [c.symbol for c in s.constants]
        H = [spec.uses[i].field for i in s.fields]
        E = list(s.noises)
        PR = [p.symbol for p in s.primitives]
        arrays = ((Z, "Z"), (K, "K"), (H, "H"), (E, "E"))
        mine = [g for g in aggregates if spec.observable_space[g.symbol] == s.name]

        # -- laws (docs/math/matrix_program.md §1): constants, then the start of every coordinate
        laws_here = [_in_primitives(c.law, laws) for c in s.constants]
        functions.append(
            _site_function(
                emit, f"constants_{s.name}", "params, PR, K", f"The constants of space {s.name} from their laws.",
                [(f"K[i, {j}]", law, f"{c.name} ~ {c.text}") for j, (c, law) in enumerate(zip(s.constants, laws_here))],
                ((PR, "PR"),), "K",
            )
        )  # fmt: skip
        functions.append(
            _site_function(
                emit, f"initial_{s.name}", "params, PR, K, Z", f"The start of the coordinates of space {s.name}.",
                [(f"Z[i, {j}]", v.init, f"{v.name}(0) ~ {v.init_text}") for j, v in enumerate(s.coordinates)],
                ((PR, "PR"), (K, "K")), "Z",
            )
        )  # fmt: skip

        # -- the source of every use computed here, and its partial derivatives
        for k in s.sources:
            use = spec.uses[k]
            functions.append(
                _site_function(
                    emit, f"source_{k + 1}", f"{t_name}, params, Z, K, H, E, out, dZ, dH, jac",
                    f"Use {k + 1}: {use.text}, {use.src} -> {use.tgt}; its source per site of {use.src} "
                    "and, with jac, the source's derivatives in Z and H.",
                    [("out[i]", use.source, None)], arrays, "out",
                    derivatives=_partials(use.source, Z, H, "dZ[i, {}]", "dH[i, {}]"),
                )
            )  # fmt: skip

        # -- the factors of the trained matrices' updates computed here (docs/math/matrix_program.md §2.1)
        for j, (space, factor) in enumerate(spec.factors()):
            if space == s.name:
                functions.append(
                    _site_function(
                        emit, f"factor_{j + 1}", f"{t_name}, params, Z, K, H, E, out",
                        f"Factor {j + 1} of an outer() in a trained matrix's update, per site of {s.name}.",
                        [("out[i]", factor, None)], arrays, "out",
                    )
                )  # fmt: skip

        # -- the update of the coordinates of this space
        rules = [m.step_map[z] for z in Z]
        partials = []
        for i, rule in enumerate(rules):
            partials += _partials(rule, Z, H, f"dZ[i, {i}, {{}}]", f"dH[i, {i}, {{}}]")
        functions.append(
            _site_function(
                emit, f"step_{s.name}", f"{t_name}, params, Z, K, H, E, Znew, dZ, dH, jac",
                f"One step of the coordinates of space {s.name} and, with jac, its Jacobian in Z and H.",
                [(f"Znew[i, {j}]", r, f"{v.name}(t+1) = {r}") for j, (v, r) in enumerate(zip(s.coordinates, rules))],
                arrays, "Znew", derivatives=partials,
            )
        )  # fmt: skip

        # -- integrands of the mean() observables of this space
        functions.append(
            _site_function(
                emit, f"observe_{s.name}", f"{t_name}, params, Z, K, H, out",
                f"Integrands of the mean() aggregates over space {s.name}, at the step's start values.",
                [(f"out[i, {j}]", g.expr, None) for j, g in enumerate(mine)], arrays[:3], "out",
            )
        )  # fmt: skip

        if d.linear or d.gaussian is not None:
            functions += _affine_functions(emit, d, s, Z, H, E, PR, laws, mine, t_name)
        spaces.append(
            SpacePlan(
                s.name,
                tuple(v.name for v in s.coordinates),
                tuple(c.name for c in s.constants),
                s.fields,
                s.sources,
                len(E),
                tuple(p.law for p in s.primitives),
                tuple(index[g.symbol] for g in mine),
                tuple(i for i, p in enumerate(PR) if p in d.classes),
            )
        )

    agg_symbols = {g.symbol: sp.Symbol(f"agg[{index[g.symbol]}]") for g in aggregates}
    for g in aggregates:
        names.add(agg_symbols[g.symbol], f"agg[{index[g.symbol]}]", internal=True)
    combine = Function("combine", ["agg", "params", "out"], "Each observable from its aggregates.")
    exprs = [o.expr.subs(agg_symbols) for o in m.observables]
    combine.lines = emit.unpack_params(exprs) + emit.assign(
        [f"out[{i}]" for i in range(len(exprs))], exprs, [f"{o.name} = {o.text}" for o in m.observables]
    )
    functions.append(combine)

    plan = ProgramPlan(
        parameters=tuple(name for _, name in runtime),
        spaces=tuple(spaces),
        observables=tuple(o.name for o in m.observables),
        n_aggregates=len(aggregates),
        linear=d.linear,
        gaussian=tuple(sorted(d.gaussian or ())),
    )
    generated = render_module(
        "matrix_program/module.py.j2",
        m,
        functions,
        derivation=d,
        plan=plan,
    )
    return generated, plan


def _in_primitives(expr: sp.Expr, laws: dict) -> sp.Expr:
    """``expr`` with every constant replaced by its law (constants may use earlier constants)."""
    for _ in range(len(laws) + 1):
        replaced = expr.subs(laws)
        if replaced == expr:
            return expr
        expr = replaced
    return expr


def _in_class(target: str, arrays: list[str]) -> str:
    """``c[0, 1]`` -> ``cq[0, 1]``: an entry of the slice of class q."""
    name, rest = target.split("[", 1)
    return f"{name}q[{rest}" if name in arrays else target


def _partials(expr, Z, H, z_target: str, h_target: str) -> list[tuple[str, sp.Expr]]:
    out = []
    for j, z in enumerate(Z):
        out.append((z_target.format(j), sp.diff(expr, z)))
    for j, h in enumerate(H):
        out.append((h_target.format(j), sp.diff(expr, h)))
    return [(target, e) for target, e in out if e != 0]


def _site_function(emit, name, args, doc, assignments, arrays, size, derivatives=()) -> Function:
    """A function looping over the sites ``i`` of ``size``: unpack what the expressions use,
    assign the values (and, when ``jac``, the nonzero derivatives)."""
    exprs = [e for _, e, _ in assignments] + [e for _, e in derivatives]
    f = Function(name, args.split(", "), doc)
    f.lines = emit.unpack_params(exprs)
    if not assignments:
        return f
    used = set().union(*(sp.sympify(e).free_symbols for e in exprs))
    body = []
    for symbols, array in arrays:
        body += [f"{emit.names[x]} = {array}[i, {j}]" for j, x in enumerate(symbols) if x in used]
    body += emit.assign([t for t, _, _ in assignments], [e for _, e, _ in assignments], [c for _, _, c in assignments])
    if derivatives:
        body.append("if jac:")
        lines = emit.assign([t for t, _ in derivatives], [e for _, e in derivatives], [""] * len(derivatives))
        body += ["    " + line for line in lines]
    f.lines.append(f"for i in range({size}.shape[0]):")
    f.lines += ["    " + line for line in body]
    return f


def _affine_functions(emit, d, s, Z, H, E, PR, laws, mine, t_name) -> list[Function]:
    """Coefficients of the exact closure (docs/math/matrix_program.md §4.2): each rule as an
    affine map of (1, Z, H, E, PR) of its space; the observables' integrands as v'Qv + l'v + c
    with v = (Z, H, PR). A primitive held fixed per site class (§4.3) is not an input: its value
    in class q is U[q, j], and every array gets the class as its first index."""
    spec = d.spec
    out = []
    fixed = [p for p in PR if p in d.classes]
    PR = [p for p in PR if p not in d.classes]
    inputs = Z + H + E + PR  # after the constant 1: entry 0 of every row

    def affine_rows(target: str, rules: list[sp.Expr]) -> tuple[list[str], list[sp.Expr]]:
        return affine_entries([sp.expand(_in_primitives(rule, laws)) for rule in rules], inputs, target)

    def function(name, args, doc, targets, entries):
        """The arrays after ``params`` are indexed by the class q first (``<array>q``: the slice of
        class q); the class values ``U`` come right after ``params``."""
        after = args.index("params") + 1
        arrays = args[after:]
        f = Function(name, args[:after] + ["U"] + arrays, doc)
        f.lines = emit.unpack_params(entries)
        body = [f"{a}q = {a}[q]" for a in arrays]
        body += [f"{emit.names[x]} = U[q, {j}]" for j, x in enumerate(fixed) if any(e.has(x) for e in entries)]
        body += emit.assign([_in_class(t, arrays) for t in targets], entries, sparse=True) if entries else []
        f.lines += ["for q in range(U.shape[0]):"] + ["    " + line for line in body]
        out.append(f)

    order = "(1, Z, H, E, PR)"
    gaussian = d.gaussian or {}
    for k in s.sources:
        if k in gaussian:  # f(u): the argument u is affine, f is evaluated at quadrature nodes
            form = gaussian[k]
            targets, entries = affine_rows("c[{1}]", [form.argument])
            doc = f"The argument u of use {k + 1}'s source f(u) over {order}."
            function(f"affine_source_{k + 1}", [t_name, "params", "c"], doc, targets, entries)
            f = Function(
                f"argument_source_{k + 1}",
                [t_name, "params", "u", "out", "dout"],
                f"Use {k + 1}'s source f(u) = {form.function} and f'(u) at every entry of u.",
                emit.unpack_params([form.function]),
            )
            body = emit.assign(["out[i]", "dout[i]"], [form.function, sp.diff(form.function, ARGUMENT)], ["", ""])
            f.lines += ["for i in range(u.shape[0]):", f"    {emit.names[ARGUMENT]} = u[i]"] + [
                "    " + x for x in body
            ]
            out.append(f)
            continue
        targets, entries = affine_rows("c[{1}]", [spec.uses[k].source])
        function(
            f"affine_source_{k + 1}", [t_name, "params", "c"], f"Use {k + 1}'s source over {order}.", targets, entries
        )
    for j, (space, factor) in enumerate(spec.factors()):
        if space == s.name:
            targets, entries = affine_rows("c[{1}]", [factor])
            doc = f"Factor {j + 1} of an outer() over {order}."
            function(f"affine_factor_{j + 1}", [t_name, "params", "c"], doc, targets, entries)
    targets, entries = affine_rows("c[{0}, {1}]", [d.model.step_map[z] for z in Z])
    function(
        f"affine_step_{s.name}",
        [t_name, "params", "c"],
        f"The update of space {s.name} over {order}.",
        targets,
        entries,
    )
    init_rows = [v.init for v in s.coordinates]
    targets, entries = affine_rows("c[{0}, {1}]", init_rows)
    function(
        f"affine_initial_{s.name}", ["params", "c"], f"The start of space {s.name} over {order}.", targets, entries
    )
    integrands = [sp.expand(_in_primitives(g.expr, laws)) for g in mine]
    targets, entries = quadratic_entries(integrands, Z + H + PR, c="c0")
    function(
        f"quadratic_observe_{s.name}",
        [t_name, "params", "Q", "l", "c0"],
        f"The mean() integrands of space {s.name} as v'Qv + l'v + c0, v = (Z, H, PR).",
        targets,
        entries,
    )
    return out
