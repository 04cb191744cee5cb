"""The `dmftc verify` check of the gaussian_field class: fluctuation–dissipation from an
equilibrium start (docs/math/gaussian_field.md §4)."""

from __future__ import annotations

from dmftc.verify.checks import FAIL, NA, PASS, Check


def checks(dm) -> list[Check]:
    return [fluctuation_dissipation(dm)]


def fluctuation_dissipation(dm, steps: int = 400, dt: float = 0.01, start: float | None = None) -> Check:
    """A Langevin flow on a landscape started in its equilibrium (docs/math/gaussian_field.md §4): C and R
    depend on t - s only, and R(t, s) = (1/T) dC(t, s)/ds with T = b^2 / (2 c) the temperature of
    the stationary law exp(-H/T) of dx/dt = -c grad(x) + b gauss(). ``start`` replaces T as the
    temperature of the initial equilibrium (another start must fail the check)."""
    name = "fluctuation-dissipation from an equilibrium start"
    d = dm.derive()
    if not (dm.model.time == "continuous" and d.ck_form):
        return Check(name, NA, "needs a Langevin flow dx/dt = -c grad(x) + b gauss() on a landscape")
    values = {p.symbol: dm.params[p.name] for p in dm.model.params}
    temperature = float(d.temperature.subs(values) / d.mobility.subs(values))
    if d.has_signal or not temperature > 0:
        return Check(name, NA, "needs a positive temperature and no signal (the equilibrium start)")
    from dmftc.classes.gaussian_field.solve import solve_gaussian_field

    ds = solve_gaussian_field(
        d, dm.params, steps=steps, dt=dt, initial_temperature=temperature if start is None else start
    )
    C, R = ds.C.values, ds.R.values
    lag, first = steps // 4, steps // 4
    shift = max(
        max(abs(C[tw + lag, tw] - C[first + lag, first]), abs(R[tw + lag, tw] - R[first + lag, first]))
        for tw in range(first, steps - lag)
    )
    fdt = max(
        abs(R[tw + lag, tw] - (C[tw + lag, tw + 1] - C[tw + lag, tw - 1]) / (2 * dt) / temperature)
        for tw in range(first, steps - lag)
    )
    # Heun's scheme is second order: at dt = 0.01 both defects are ~1e-5 (tests/test_field_flow.py)
    status = PASS if max(shift, fdt) < 1e-4 else FAIL
    return Check(
        name,
        status,
        f"T = {temperature:g}, lag {lag * dt:g}: largest change of C, R along "
        f"t - s fixed {shift:.1e}, largest |R - (1/T) dC/ds| {fdt:.1e}",
    )
