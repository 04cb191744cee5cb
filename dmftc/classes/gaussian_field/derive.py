"""Derivation for the ``gaussian_field`` class: the effective process of docs/math/gaussian_field.md §3.

For a random landscape ``E[H(x) H(x')] = N f(x.x'/N)`` (``f = xi``) with an optional signal
term ``-N f_s(x.x*/N)`` (``f_s = strength``), one coordinate of the optimizer sees, at its
query point ``y(t)`` (where ``grad()`` is taken), the landscape force

    F(t) = -∂_i H(y(t))  ->  ξ(t) + Σ_{s<t} f''(C(t,s)) R(t,s) y(s) + f_s'(m(t)) x*,
    E[ξ(t) ξ(s)] = f'(C(t,s)),  C(t,s) = E[y(t) y(s)],  R(t,s) = E[∂y(t)/∂ξ(s)],  m(t) = E[y(t) x*],

so ``grad(x) = -F(t) + r'(y(t))`` for a penalty ``r``. The update of the model becomes the site
map ``z(t+1) = Φ(z, F(t), noise, t)``; a weight ``on sphere`` is then divided by the deterministic
``sqrt(E[x(t+1)^2])``. When Φ and the query point are affine (gradient descent, heavy ball,
Nesterov, Langevin noise, quadratic penalties) every variable is a linear combination of the
Gaussian inputs ``(1, initial inputs, x*, ξ(0..T), noises)``, and ``C``, ``R``, ``m`` follow
exactly from the coefficient vectors by one causal pass (templates/gaussian_field.py.j2).

For a flow ``dx/dt = c F - mu x + b gauss()`` on the sphere the derivation also gives the
Cugliandolo–Kurchan equations of docs/math/gaussian_field.md §2 with ``f`` substituted (mobility ``c``,
temperature ``T = b^2/2``), solved by :mod:`dmftc.ck_solver`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.analysis.model import Model
from dmftc.errors import DerivationError
from dmftc.language import nodes as n
from dmftc.language.symbols import DT, OVERLAP_M, OVERLAP_Q, grad_symbol
from dmftc.language.syntax import parse
from dmftc.symbolic.algebra import is_affine, is_quadratic

# -∂_i H at the query point of the step (landscape and signal); not a name a model can use
FORCE = sp.Symbol("F(t)", real=True)
_ROOT_DT = sp.Symbol("√dt", positive=True)


@dataclass(frozen=True)
class FieldDerivation:
    model: Model
    coordinates: tuple[sp.Symbol, ...]  # z: the weight, then the states
    weight: sp.Symbol  # x
    sphere: bool  # x is projected back to the sphere after each step
    query: sp.Expr  # y = where grad() is taken, in z
    gradient: sp.Expr  # grad(x) in z and F(t)
    site_map: dict  # z_k -> Φ_k(z, F(t), noise, t) before the projection
    xi: sp.Expr  # f(q)
    xi_d1: sp.Expr  # f'(q)
    xi_d2: sp.Expr  # f''(q)
    strength: sp.Expr  # f_s(m), 0 without a signal
    strength_d1: sp.Expr  # f_s'(m)
    linear: bool  # the exact recursion applies
    not_linear_because: tuple[str, ...]
    # flows of the form dx/dt = c F + a x + b gauss() on the sphere (the a x part is radial:
    # the Lagrange multiplier absorbs it)
    ck_form: bool
    not_ck_because: str
    mobility: sp.Expr  # c
    temperature: sp.Expr  # T = b^2 / 2
    # initial laws with the signal's part taken out, and the weight's initial overlap with the
    # signal after the projection on the sphere: a law a xstar + r gives a / sqrt(a^2 + E[r^2])
    initial_laws: tuple[sp.Expr, ...] = ()
    initial_overlap: sp.Expr = sp.Integer(0)

    @property
    def has_signal(self) -> bool:
        return self.model.spec.signal is not None

    @property
    def query_is_weight(self) -> bool:
        return sp.simplify(self.query - self.weight) == 0

    def render(self, fmt: str = "text") -> str:
        from dmftc.classes.gaussian_field.report import render_field_derivation

        return render_field_derivation(self, fmt)

    def _repr_latex_(self) -> str:  # Jupyter
        return "$\\displaystyle " + self.render("latex-inline") + "$"


def derive_gaussian_field(model: Model) -> FieldDerivation:
    weight_var = model.weights[0]
    x = weight_var.symbol
    z = tuple(v.symbol for v in model.coordinates)
    query = model.grad_point[x]
    penalty_grad = sp.diff(model.penalty, x).subs(model.grad_point, simultaneous=True)
    gradient = -FORCE + penalty_grad
    site_map = {zk: model.step_map[zk].subs(grad_symbol(weight_var.name), gradient) for zk in z}
    if weight_var.sphere and model.time == "discrete":
        _check_single_assignment(model, weight_var.name)

    q, m = OVERLAP_Q, OVERLAP_M
    xi = model.spec.xi
    strength = model.spec.strength if model.spec.strength is not None else sp.Integer(0)
    reasons = _not_linear_because(model, site_map, z, query)
    ck_form, not_ck, mobility, temperature = _ck_form(model, site_map, x)
    initial_laws, initial_overlap = _initial_overlap(model)
    return FieldDerivation(
        model=model,
        coordinates=z,
        weight=x,
        sphere=weight_var.sphere,
        query=query,
        gradient=gradient,
        site_map=site_map,
        xi=xi,
        xi_d1=sp.powsimp(sp.diff(xi, q)),
        xi_d2=sp.powsimp(sp.diff(xi, q, 2)),
        strength=strength,
        strength_d1=sp.powsimp(sp.diff(strength, m)),
        linear=not reasons,
        not_linear_because=tuple(reasons),
        ck_form=ck_form,
        not_ck_because=not_ck,
        mobility=mobility,
        temperature=temperature,
        initial_laws=initial_laws,
        initial_overlap=initial_overlap,
    )


def _initial_overlap(model: Model) -> tuple[tuple[sp.Expr, ...], sp.Expr]:
    """Split each initial law into its signal part a xstar and the rest r (independent of the
    signal); the weight starts on the sphere with overlap a / sqrt(a^2 + E[r^2])."""
    if model.spec.signal is None:
        return tuple(v.init for v in model.coordinates), sp.Integer(0)
    xstar = model.spec.signal.symbol
    rests = tuple(v.init.subs(xstar, 0) for v in model.coordinates)
    law = model.weights[0].init
    if not law.has(xstar):
        return rests, sp.Integer(0)
    a = sp.diff(law, xstar)
    if (
        a.has(xstar)
        or any(a.has(p.symbol) for p in model.primitives)
        or not is_affine(rests[0], [p.symbol for p in model.primitives])
    ):
        raise DerivationError(
            f"the initial law of {model.weights[0].name} must be a xstar + r with r affine in its random inputs",
            model.weights[0].loc,
            kind="bad-law",
        )
    second = _second_moment(rests[0], model.primitives)
    # the solvers and the simulator build x(0) = m0 x* + sqrt(1 - m0^2) r: r must have unit
    # second moment (the weight and its copies, state x_prev = x), or |x(0)|^2 != N
    unit = rests[0] / sp.sqrt(second)
    rests = tuple(unit if sp.simplify(r - rests[0]) == 0 else r for r in rests)
    return rests, a / sp.sqrt(a**2 + second)


def _second_moment(expr: sp.Expr, primitives) -> sp.Expr:
    """E[expr^2] for expr affine in independent primitives."""
    c0 = expr.subs({p.symbol: 0 for p in primitives})
    moment = c0**2
    coefficients = [(sp.diff(expr, p.symbol), p) for p in primitives]
    for i, (ci, pi) in enumerate(coefficients):
        moment += 2 * c0 * ci * pi.mean + ci**2 * pi.second_moment
        for cj, pj in coefficients[i + 1 :]:
            moment += 2 * ci * cj * pi.mean * pj.mean
    return moment


def _check_single_assignment(model: Model, name: str):
    """The step map composes the whole update; a projection after each assignment to ``name``
    equals one projection at the end when ``name`` is assigned once and not read afterwards."""
    tree = parse(model.source, model.path)
    block = next(s for s in tree.statements if isinstance(s, n.UpdateBlock))
    assigned = [a for a in block.assignments if a.target == name]
    if len(assigned) > 1:
        raise DerivationError(
            f"'{name}' is on the sphere and assigned {len(assigned)} times in one step: dmftc projects once per step",
            assigned[1].loc,
            kind="sphere-assignments",
            hint=f"compute the new value in a temporary and assign '{name}' once",
        )
    later = block.assignments[block.assignments.index(assigned[0]) + 1 :]
    lets = {s.name: s.value for s in tree.statements if isinstance(s, n.LetDecl)}
    for a in later:
        if _reads(a.value, name, lets):
            raise DerivationError(
                f"'{name}' is read after its assignment; on the sphere that would be the value before the projection",
                a.loc,
                kind="sphere-assignments",
                hint=f"assign '{name}' last, or copy it before assigning",
            )


def _reads(expr: n.Expr, name: str, lets: dict) -> bool:
    """Whether ``expr`` reads ``name``, directly or through the definitions ``lets`` (name -> expression)."""
    match expr:
        case n.Name(id=found):
            return found == name or (found in lets and _reads(lets[found], name, lets))
        case n.Unary():
            return _reads(expr.operand, name, lets)
        case n.Binary():
            return _reads(expr.left, name, lets) or _reads(expr.right, name, lets)
        case n.Call(func="grad"):  # grad(x) names the weight; it is taken at the step's start
            return False
        case n.Call():
            return any(_reads(a, name, lets) for a in expr.args + tuple(k.value for k in expr.keywords))
        case n.GradAt():
            return _reads(expr.point, name, lets)
    return False


def _not_linear_because(model: Model, site_map: dict, z, query) -> list[str]:
    """Why the exact linear recursion does not apply; empty when it does."""
    reasons = []
    inputs = list(z) + [FORCE] + list(model.noises)
    if not all(is_affine(site_map[zk], inputs) for zk in z):
        reasons.append("the update is not affine in the coordinates, the gradient and the noise")
    if not is_affine(query, z):
        reasons.append("the gradient's point is not affine in the coordinates")
    primitives = [p.symbol for p in model.primitives]
    signal = [model.spec.signal.symbol] if model.spec.signal else []
    for v in model.coordinates:
        if not is_affine(v.init, primitives + signal):
            reasons.append(f"the initial law of {v.name} is not affine in its random inputs")
    per_coordinate = list(z) + ([model.spec.signal.symbol] if model.spec.signal else [])
    for o in model.observables:
        for a in o.aggregates:
            if a.kind == "mean" and not is_quadratic(a.expr, per_coordinate):
                reasons.append(f"observable {o.name}: mean() of a non-quadratic expression")
    return reasons


def _ck_form(model: Model, site_map: dict, x: sp.Symbol):
    """(applies, why not, mobility c, temperature b^2/2) for ``dx/dt = c F + a x + b gauss()``."""
    zero = sp.Integer(0)
    if model.time != "continuous":
        return False, "the model has a discrete update", zero, zero
    if model.states:
        return False, "the flow has optimizer states", zero, zero
    if not model.weights[0].sphere:
        return False, "the weight is not on the sphere", zero, zero
    if len(model.noises) > 1:
        return False, "the flow has more than one gauss()", zero, zero
    # the analysis stores the Euler–Maruyama step x + dt drift + sqrt(dt) noise
    increment = sp.expand((site_map[x] - x).subs(DT, _ROOT_DT**2))
    drift, noise = increment.coeff(_ROOT_DT, 2), increment.coeff(_ROOT_DT, 1)
    random = {x, FORCE, *model.noises}
    mobility, radial = sp.diff(drift, FORCE), sp.diff(drift, x)
    amplitude = sp.diff(noise, model.noises[0]) if model.noises else zero
    exact = (
        sp.expand(increment - drift * _ROOT_DT**2 - noise * _ROOT_DT) == 0
        and sp.expand(drift - mobility * FORCE - radial * x) == 0
        and sp.expand(noise - (amplitude * model.noises[0] if model.noises else zero)) == 0
    )
    if not exact or any(e.free_symbols & random for e in (mobility, radial, amplitude)):
        return False, "the flow is not dx/dt = -c grad(x) + b gauss()", zero, zero
    return True, "", mobility, amplitude**2 / 2
