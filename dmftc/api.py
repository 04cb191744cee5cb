"""The Python interface: ``dmftc.load(path, **params)`` and the operations on a model."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from dmftc.analysis.driver import GAUSSIAN_DATA, LINEAR_SYSTEM, MATRIX_SGD, Model, load_model
from dmftc.errors import CodegenError, DmftcError, SolverError


def load(path: str | Path, **params) -> "DMFTModel":
    """Load and check a model file; ``params`` override its parameters (numbers)."""
    return DMFTModel(load_model(path), params)


class DMFTModel:
    """An analysed model with numeric parameter values."""

    def __init__(self, model: Model, params: dict | None = None):
        self.model = model
        self.overrides = dict(params or {})
        try:
            self.params = model.resolve_params(self.overrides)
        except DmftcError as e:
            raise e.with_source(model.path, model.source) from None

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"<dmftc model {self.model.name} ({self.model.disorder}) {values}>"

    @functools.cached_property
    def _derivation(self):
        from dmftc.classes.gaussian_data.derive import derive

        started = time.perf_counter()
        derivation = derive(self.model)
        self._derive_seconds = time.perf_counter() - started
        return derivation

    def derive(self):
        """The effective processes, closure and kernels; prints as text, LaTeX or Markdown."""
        return self._derivation

    def derive_sde(self):
        """The small-step diffusion limit of mini-batch SGD (:mod:`dmftc.sde`)."""
        from dmftc.symbolic.sde import derive_sde

        try:
            return derive_sde(self.model)
        except DmftcError as e:
            raise e.with_source(self.model.path, self.model.source) from None

    def codegen(self):
        """The generated solver source (:class:`~dmftc.codegen.GeneratedSource`)."""
        if self.model.disorder in (LINEAR_SYSTEM, MATRIX_SGD):
            raise CodegenError("the linear_system class has no generated code: its solver is plain numpy "
                               "(dmftc/solve_linear.py)", kind="not-available")
        if self.model.disorder != GAUSSIAN_DATA:
            from dmftc.classes.gaussian_field.lower import generate_gaussian_field

            return generate_gaussian_field(self._derivation)[0]
        source, _ = self._derivation.generated
        return source

    def solve(self, steps: int | None = None, samples: int | None = None, seed: int = 0,
              dt: float | None = None, mode: str = "auto", responses: str = "auto",
              variance_reduction: bool = True, progress: bool = False, tmax: float | None = None,
              method: str = "auto", average_over=None, euler: bool = False):
        """Solve the DMFT equations; returns an ``xarray.Dataset`` (LANGUAGE.md §7).

        ``mode``: ``auto`` (exact when the model is linear, else Monte Carlo), ``exact`` or
        ``monte-carlo``; ``samples``: Monte-Carlo samples per side; ``responses``: ``auto``,
        ``jacobian`` or ``stein``; ``variance_reduction``: antithetic, orthonormalised Gaussian
        inputs (on by default; off gives the plain Monte-Carlo estimator).

        gaussian_field models are solved exactly (``samples``, ``responses`` do not apply);
        ``tmax`` solves a flow on the adaptive grid up to that time (:mod:`dmftc.solve_field`).

        linear_system models: ``method`` ``auto``, ``dmft`` or ``spectral``; ``euler``: the
        spectral solver takes the Euler step of a flow (:mod:`dmftc.solve_linear`).
        ``average_over``: sources of randomness to average the predictor over (``"init,noise"``):
        adds ``<name>_bias`` and ``<name>_variance`` (exact closures of linear models only).
        """
        derivation = self._derivation
        if self.model.disorder == LINEAR_SYSTEM:
            from dmftc.classes.linear_system.solve import solve_linear_system

            return solve_linear_system(derivation, self.params, steps=steps, dt=dt, method=method,
                                       average_over=average_over, euler=euler, derive_seconds=self._derive_seconds)
        if method != "auto":
            raise SolverError("--method is for linear systems (models with a 'matrix')", kind="bad-option")
        if self.model.disorder == MATRIX_SGD:
            from dmftc.classes.matrix_sgd.solve import predict_matrix_sgd

            return predict_matrix_sgd(self.model, self.params, steps=steps)
        if average_over is not None and self.model.disorder != GAUSSIAN_DATA:
            raise SolverError("--average-over is for linear models of data and linear systems", kind="bad-option")
        if self.model.disorder != GAUSSIAN_DATA:
            from dmftc.classes.gaussian_field.solve import solve_gaussian_field

            with _progress(progress) as bar:
                return solve_gaussian_field(derivation, self.params, steps=steps, samples=samples, seed=seed,
                                            dt=dt, mode=mode, responses=responses, progress=bar,
                                            derive_seconds=self._derive_seconds, tmax=tmax)
        if tmax is not None:
            raise SolverError("--tmax is for flows of the gaussian_field class", kind="bad-option")
        from dmftc.classes.gaussian_data.solve import solve_gaussian_data

        with _progress(progress) as bar:
            return solve_gaussian_data(derivation, self.params, steps=steps, samples=samples, seed=seed,
                                       dt=dt, mode=mode, responses=responses,
                                       variance_reduction=variance_reduction, progress=bar,
                                       derive_seconds=self._derive_seconds, average_over=average_over)

    def sweep(self, grid: dict, client=None, output: str | Path | None = None, progress: bool = False,
              **solve_options):
        """Solve at every point of ``grid`` (name -> list of values; a number fixes a parameter)
        with Dask: a local cluster, or ``client`` (a ``distributed.Client`` or a scheduler
        address). ``output`` is written, and resumed from. See :mod:`dmftc.sweep`."""
        from dmftc.results.sweep import run_sweep

        return run_sweep(self, grid, client=client, output=output, progress=progress, **solve_options)

    def simulate(self, dim: int = 1000, runs: int = 10, steps: int | None = None, seed: int = 0,
                 dt: float | None = None, progress: bool = False):
        """Simulate the finite-size system; means and standard errors over runs."""
        if self.model.disorder == MATRIX_SGD:  # N is the model's: data online(dim = N)
            from dmftc.classes.matrix_sgd.solve import simulate_matrix_sgd

            with _progress(progress) as bar:
                return simulate_matrix_sgd(self.model, self.params, runs=runs, steps=steps, seed=seed, progress=bar)
        if self.model.disorder == LINEAR_SYSTEM:
            from dmftc.classes.linear_system.simulate import simulate_linear_system

            with _progress(progress) as bar:
                return simulate_linear_system(self._derivation, self.params, dim=dim, runs=runs, steps=steps,
                                              seed=seed, dt=dt, progress=bar)
        if self.model.disorder != GAUSSIAN_DATA:
            from dmftc.classes.gaussian_field.simulate import simulate_gaussian_field

            with _progress(progress) as bar:
                return simulate_gaussian_field(self._derivation, self.params, dim=dim, runs=runs, steps=steps,
                                               seed=seed, dt=dt, progress=bar)
        from dmftc.classes.gaussian_data.simulate import simulate_gaussian_data

        with _progress(progress) as bar:
            return simulate_gaussian_data(self._derivation, self.params, dim=dim, runs=runs, steps=steps,
                                          seed=seed, dt=dt, progress=bar)


class _progress:
    """A rich progress bar on stderr when asked for, else nothing."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                                transient=True)
            self.bar.__enter__()
        return self.bar

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False
