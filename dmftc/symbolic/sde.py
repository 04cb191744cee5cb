"""``dmftc derive --sde``: the small-step diffusion limit of mini-batch SGD (docs/math/matrix_sgd.md §2).

A step with a batch of ``B`` samples uses the gradient estimate ``ĝ = c/B Σ_b ∇ℓ_{μ_b} + ∇r``
(``c = n`` when the loss is summed over n samples, ``data gaussian``; ``c = 1`` when it is the
mean over fresh samples, ``data online``), with the samples drawn uniformly, with replacement:

    E[ĝ] = ∇L (the full gradient),      Cov[ĝ] = c² Σ₁ / B,

``Σ₁`` the covariance of one sample's gradient. For an update ``z' = F(z, ĝ)`` that is
``z + lr V(z, ĝ) + O(lr²)`` (a first-order method), time ``t = k lr`` and ``lr -> 0`` give

    dz = V(z, ∇L) dt + D^{1/2} dW_t,     D = lr J Cov[ĝ] Jᵀ = (lr / B) c² J Σ₁ Jᵀ,   J = ∂V/∂ĝ,

so lr and B enter only through the temperature ``T = lr / B``: the whole path and its
stationary law are unchanged under ``lr -> k lr, B -> k B`` (the linear scaling rule). Every
expression is derived with sympy from the model (its update, loss and label); the scaling rule is
checked by substituting ``lr = T B`` and finding no B left.

At the teacher of a regression (``h = hstar``), the loss gradient of a sample ``g = ∂ℓ/∂h`` no
longer depends on x, so ``Σ₁ = E[g²] E[x xᵀ]``: isotropic, ``E[g²] = sigma²`` for
``y = hstar + sigma eps``. For the matrix family (E[x xᵀ] = I) the entries of ``W − W*`` are then
Ornstein–Uhlenbeck processes with rate ``κ = E[∂g/∂h]`` and stationary variance ``D / (2 κ)``:
``lr sigma² / (2 B)`` (docs/math/matrix_sgd.md §4), the input of the Dyson Brownian motion of the eigenvalues.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.analysis.data import DataSpec
from dmftc.analysis.model import Model
from dmftc.errors import DerivationError
from dmftc.language.symbols import EPS, HSTAR, grad_symbol
from dmftc.symbolic.report import Line, Notation, latex, latex_base, render_sections

TEMPERATURE = sp.Symbol("T", positive=True)  # lr / B
SAMPLES = sp.Symbol("n", positive=True)
COVARIANCE = sp.Symbol("Σ₁", positive=True)  # one sample's gradient covariance (a matrix)


@dataclass(frozen=True)
class SDEDerivation:
    model: Model
    lr: sp.Symbol
    batch_size: sp.Expr  # B
    scale: sp.Expr  # c: n (summed loss) or 1 (batch mean)
    loss_grad: sp.Expr  # g = ∂ℓ/∂h
    velocity: dict  # z -> V(z, ĝ)
    jacobian: sp.Matrix  # J = ∂V/∂ĝ (coordinates x weights)
    diffusion: sp.Matrix  # D in units of Σ₁
    diffusion_at_temperature: sp.Matrix  # D with lr = T B
    teacher_noise: sp.Expr | None  # E[g²] at h = hstar
    stationary_variance: sp.Expr | None  # matrix family, SGD: per-entry variance of W - W*

    def render(self, fmt: str = "text") -> str:
        return render_sde(self, fmt)

    def _repr_latex_(self) -> str:  # Jupyter
        return "$\\displaystyle " + self.render("latex-inline") + "$"


def _gaussian_moment(k: int) -> int:
    """E[eps^k] for eps ~ N(0, 1)."""
    return 0 if k % 2 else int(sp.factorial2(k - 1)) if k else 1


def derive_sde(model: Model) -> SDEDerivation:
    spec = model.spec
    if not isinstance(spec, DataSpec):
        raise DerivationError(
            "--sde is for data models with a mini-batch of fixed size ('batch size B')", kind="not-available"
        )
    online = spec.data_kind == "online"  # fresh samples: the loss is the batch mean
    if not online and (spec.batch is None or spec.batch.kind != "size"):
        raise DerivationError("--sde needs a mini-batch of fixed size: add 'batch size B'", kind="not-available")
    lr = next((p.symbol for p in model.params if p.name == "lr"), None)
    if lr is None or model.time != "discrete":
        raise DerivationError("--sde needs a discrete update with a learning rate parameter 'lr'", kind="not-available")
    B = model.spec.batch.args[0] if model.spec.batch is not None else sp.Integer(1)
    if not isinstance(B, sp.Symbol):
        B = sp.Symbol("B", positive=True)  # a number: derive with a symbol, the rule is the same
    velocity = {}
    for v in model.coordinates:
        F = model.step_map[v.symbol]
        if sp.simplify(F.subs(lr, 0) - v.symbol) != 0:
            raise DerivationError(
                f"{v.name} moves at lr = 0 ({F.subs(lr, 0)}): the update has no first-order "
                "small-step limit (momentum has a mass term)",
                kind="not-available",
            )
        velocity[v.symbol] = sp.simplify(sp.diff(F, lr).subs(lr, 0))
    grads = [grad_symbol(w.name) for w in model.weights]
    J = sp.Matrix([[sp.diff(velocity[v.symbol], g) for g in grads] for v in model.coordinates])
    scale = sp.Integer(1) if online else SAMPLES
    D = sp.simplify(lr * scale**2 / B * J * J.T) * COVARIANCE
    at_T = sp.simplify(D.subs(lr, TEMPERATURE * B))
    if at_T.has(B):
        raise DerivationError(f"the diffusion {D} depends on lr and B separately", kind="not-available")

    h, y = model.spec.h, model.spec.y
    g = sp.diff(model.spec.loss, h)
    at_teacher = g.subs(y, model.spec.label).subs(h, HSTAR)
    noise, variance = None, None
    if not at_teacher.has(HSTAR) and sp.expand(at_teacher**2).is_polynomial(EPS):
        poly = sp.Poly(sp.expand(at_teacher**2), EPS)
        noise = sp.simplify(sum(c * _gaussian_moment(k[0]) for k, c in poly.terms()))
        rate = sp.diff(g, h)
        sgd = len(model.coordinates) == 1 and J[0, 0] == -1
        if online and sgd and not rate.free_symbols - {p.symbol for p in model.params}:
            variance = sp.simplify(D[0, 0].subs(COVARIANCE, noise) / (2 * rate))
    return SDEDerivation(model, lr, B, scale, g, velocity, J, D, at_T, noise, variance)


def render_sde(d: SDEDerivation, fmt: str) -> str:
    m = d.model
    online = m.spec.data_kind == "online"
    sections = []
    c = "1" if online else "n"
    gradient = [
        Line("g", "g", d.loss_grad, "one sample's loss gradient ∂ℓ/∂h"),
        Line(
            "ĝ",
            r"\hat g",
            Notation(
                f"{c}/B Σ_(b≤B) (∂Θ/∂w) x_(μ_b) g_(μ_b) + ∇r,  μ_b uniform on the samples",
                rf"\frac{{{c}}}{{B}}\sum_{{b\le B}} \partial_w\Theta\, x_{{\mu_b}} g_{{\mu_b}} + \nabla r",
            ),
            "the mini-batch estimate" + (", samples fresh every step" if online else ""),
        ),
        Line("E[ĝ]", r"\mathbb{E}[\hat g]", Notation("∇L (the full gradient)", r"\nabla L")),
        Line(
            "Cov[ĝ]",
            r"\mathrm{Cov}[\hat g]",
            d.scale**2 * COVARIANCE / d.batch_size,
            "Σ₁ = Cov over one sample of (∂Θ/∂w) x g",
        ),
    ]
    sections.append(("Mini-batch gradient", gradient))
    step = [Line(f"{z}(t+1)", rf"{latex_base(z)}_{{t+1}}", m.step_map[z]) for z in d.velocity]
    step += [Line(f"V_{z}", rf"V_{{{latex(z)}}}", V, "z(t+1) = z + lr V + O(lr²)") for z, V in d.velocity.items()]
    step.append(Line("J", "J", d.jacobian, "∂V/∂ĝ"))
    sections.append(("One step and its velocity", step))
    sde = [
        Line(
            f"d{z}",
            rf"d{latex(z)}",
            Notation(f"({sp.sstr(V)}) dt + noise", latex(V) + r"\,dt + \text{noise}"),
            "time t = k lr; grad() = the full gradient",
        )
        for z, V in d.velocity.items()
    ]
    sde.append(Line("D", "D", d.diffusion, "covariance of the noise per unit time: lr J Cov[ĝ] Jᵀ"))
    sde.append(
        Line(
            "D(lr = T B)",
            r"D|_{\mathrm{lr}=TB}",
            d.diffusion_at_temperature,
            "B is gone: lr and B enter only through T = lr / B (linear scaling rule)",
        )
    )
    sections.append(("Small-step limit (docs/math/matrix_sgd.md §2)", sde))
    if d.teacher_noise is not None:
        xx = "I" if online else "I/d"
        teacher = [
            Line("E[g²]", r"\mathbb{E}[g^2]", d.teacher_noise, f"at h = hstar; then Σ₁ = E[g²] E[x xᵀ] = E[g²] {xx}")
        ]
        if d.stationary_variance is not None:
            teacher.append(
                Line(
                    "v",
                    "v",
                    d.stationary_variance,
                    "stationary variance of an entry of W - W* (Ornstein–Uhlenbeck, rate ∂g/∂h)",
                )
            )
            teacher.append(
                Line(
                    "WᵀW",
                    r"W^{\top}W",
                    Notation(
                        "eigenvalues: Dyson Brownian motion around W*ᵀW*; for W* = I a semicircle of mean 1 + N v and "
                        "variance 2 N v, spacings of the Wigner surmise (<s²> = 4/π)",
                        r"\text{semicircle: mean } 1 + Nv,\ \text{variance } 2Nv,\ \langle s^2\rangle = 4/\pi",
                    ),
                    "docs/math/matrix_sgd.md §3–§4",
                )
            )
        else:
            teacher.append(
                Line(
                    "",
                    "",
                    Notation(
                        "per coordinate D = lr n² E[g²] / (d B) = lr α² d E[g²] / B grows with d: "
                        "no DMFT limit at fixed lr and B",
                        r"\text{per coordinate } D \propto d:\ \text{no DMFT limit at fixed lr, B}",
                    ),
                )
            )
        sections.append(("At the teacher", teacher))
    return render_sections(f"{m.name}: stochastic differential equation of mini-batch SGD", sections, m, fmt)
