"""The Python interface: ``dmftc.load(path, **params)`` and the operations on a model.

Every operation asks the model's class (:mod:`dmftc.classes`) and the pipeline
(:mod:`dmftc.pipeline`); the options of ``solve`` and ``simulate`` come from :mod:`dmftc.options`.
"""

from __future__ import annotations

from pathlib import Path

from dmftc import options as opts
from dmftc.errors import DmftcError, ParameterError
from dmftc.pipeline import CompiledModel, compile_model
from dmftc.resources import find_model
from dmftc.runtime.progress import progress_bar


def load(path: str | Path, **params) -> DMFTModel:
    """Load and check a model file (a path, or the name of a bundled model: ``"ridge_gd"``);
    ``params`` override its parameters (numbers)."""
    return DMFTModel(compile_model(find_model(path)), params)


class DMFTModel:
    """An analysed model with numeric parameter values."""

    def __init__(self, compiled: CompiledModel, params: dict | None = None):
        self.compiled = compiled
        self.model = compiled.model
        self.model_class = compiled.model_class
        self.overrides = dict(params or {})
        try:
            self.params = self.model.resolve_params(_numbers(self.model, self.overrides))
        except DmftcError as e:
            raise e.with_source(self.model.path, self.model.source) from None

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"<dmftc model {self.model.name} ({self.model.cls}) {values}>"

    def with_params(self, **params) -> DMFTModel:
        """The same compiled model with other parameter values (nothing is recompiled)."""
        return DMFTModel(self.compiled, self.overrides | params)

    def derive(self, sde: bool = False):
        """The effective processes, closure and kernels; prints as text, LaTeX or Markdown.

        ``sde``: the small-step diffusion limit of mini-batch SGD instead (models with
        ``batch size B`` and the matrix family; :mod:`dmftc.symbolic.sde`)."""
        if not sde:
            return self.compiled.derivation
        from dmftc.symbolic.sde import derive_sde

        try:
            return derive_sde(self.model)
        except DmftcError as e:
            raise e.with_source(self.model.path, self.model.source) from None

    def codegen(self):
        """The generated solver source (:class:`~dmftc.codegen.render.GeneratedSource`)."""
        return self.compiled.generated[0]

    def solve(self, **options):
        options, progress = _split_progress(options)
        resolved = opts.resolve(opts.SOLVE, self.model_class, self.model, options)
        opts.check_memory(self, opts.SOLVE, resolved)
        with progress_bar(progress) as bar:
            return self.model_class.solve(self.compiled, self.params, resolved, bar)

    def simulate(self, **options):
        options, progress = _split_progress(options)
        resolved = opts.resolve(opts.SIMULATE, self.model_class, self.model, options)
        opts.check_memory(self, opts.SIMULATE, resolved)
        with progress_bar(progress) as bar:
            return self.model_class.simulate(self.compiled, self.params, resolved, bar)

    solve.__signature__ = opts.api_signature(opts.SOLVE)
    solve.__doc__ = opts.api_doc(
        opts.SOLVE, "Solve the DMFT equations; returns an ``xarray.Dataset`` (docs/language.md §7)."
    )
    simulate.__signature__ = opts.api_signature(opts.SIMULATE)
    simulate.__doc__ = opts.api_doc(
        opts.SIMULATE,
        "Simulate the finite-size system; returns an ``xarray.Dataset`` of means and ``<name>_sem`` over runs.",
    )

    def sweep(self, grid: dict, client=None, output: str | Path | None = None, progress: bool = False, **solve_options):
        """Solve at every point of ``grid`` (name -> list of values; a number fixes a parameter)
        with Dask: a local cluster, or ``client`` (a ``distributed.Client`` or a scheduler
        address). ``output`` is written, and resumed from. See :mod:`dmftc.results.sweep`."""
        from dmftc.results.sweep import run_sweep

        return run_sweep(self, grid, client=client, output=output, progress=progress, **solve_options)

    def verify(self, against: str | Path | None = None):
        """The checks of ``dmftc verify`` (:mod:`dmftc.verify`): a list of results with a status."""
        from dmftc.verify import run_checks

        return run_checks(self, against)


def _numbers(model, overrides: dict) -> dict:
    """The override values of the model's parameters as numbers (:func:`dmftc.options.parameter_value`);
    a bad one is an error at the parameter's line. Unknown names are Model.resolve_params's to report."""
    out = dict(overrides)
    for p in model.params:
        if p.name in overrides:
            try:
                out[p.name] = opts.parameter_value(overrides[p.name])
            except ValueError as e:
                raise ParameterError(
                    f"parameter '{p.name}' {e}", p.loc, kind="bad-parameter-value", hint="numbers: 0.1, -2, 1e-3"
                ) from None
    return out


def _split_progress(options: dict) -> tuple[dict, bool]:
    options = dict(options)
    return options, bool(options.pop("progress", False))
