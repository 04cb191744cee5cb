"""Landscapes with a power above 3: DMFT against the diluted simulator at N = 1000 (slow).

The simulator's diluted couplings (docs/math/gaussian_field.md §4.1) have exactly the covariance
N xi(q) but converge to the Gaussian landscape only as the connectivity K grows. Agreement is judged
per step in standard errors of the simulation mean over runs, plus an allowance for the bias
measured there: finite N (O(1/N) for dense couplings) and finite connectivity.
"""

import numpy as np
import pytest

import dmftc

# GD from a uniform start on the sphere, with C(t, 0) as an observable: the copy x0 of the
# initial weight is never updated, so mean(x * x0) = C(t, 0)
MODEL = """model {name}
param lr = 0.05
landscape gaussian_field(xi = {xi})
weights x ~ normal(0, 1) on sphere
state x0 = x
update:
    x = x - lr * grad(x)
    x0 = x0
observe energy = energy()
observe c0 = mean(x * x0)
"""

CASES = [("pspin4_gd", "q^4 / 2"), ("mixed24_gd", "q^2 / 4 + q^4 / 4")]


@pytest.mark.slow
@pytest.mark.parametrize("name, xi", CASES)
def test_power_4_dmft_agrees_with_simulation_at_n_1000(name, xi, tmp_path):
    # N = 1000, 200 runs, 60 steps, the default connectivity (1600 terms per coordinate for the
    # power 4, docs/math/gaussian_field.md §4.1). Standard errors of the mean over runs: 1.0e-3 to
    # 1.6e-3 for the energy and 1.3e-3 for C(t, 0). Each step must lie within 4 of them (a false
    # alarm ~6e-5 per step under a Gaussian error model) plus 3e-3 for the bias measured there
    # with 400 runs: the energy of pure 4-spin GD within 1.3e-3 at N = 1000 and 2000 (2e-3 over 200
    # steps), C(t, 0) within 2.4e-3, the mixed model within 1.3e-3; finite N alone (dense
    # couplings) contributes O(1/N) = 1e-3. Half the connectivity gives a bias up to 5e-3 at
    # N = 2000, which this test does not always see; an eighth (the plain diluted form at K = 200)
    # gives 0.01 to 0.8 and fails.
    path = tmp_path / f"{name}.dmft"
    path.write_text(MODEL.format(name=name, xi=xi))
    m = dmftc.load(path)
    theory = m.solve(steps=60)
    simulation = m.simulate(dim=1000, runs=200, steps=60)
    for observable in ("energy", "c0"):
        deviation = np.abs(theory[observable].values - simulation[observable].values)
        allowed = 4 * simulation[f"{observable}_sem"].values + 3e-3
        assert np.all(deviation <= allowed), (observable, (deviation - allowed).max())
