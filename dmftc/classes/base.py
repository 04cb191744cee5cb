"""What a model class provides: :class:`ModelClass`.

A model class is one folder of ``dmftc/classes/`` and one entry of the registry
(``dmftc/classes/__init__.py``). Its object tells every stage what to do with a model of the
class; nothing outside the class folder tests a model's class:

* **analysis**: the statements the class adds to the language (``handlers``, called by the
  analysis driver with the analyser and the statement), which statement selects the class
  (:meth:`defines`), the per-sample names it reserves, the aggregates it enables, and the final
  checks that build its typed specification (:meth:`finish`);
* **derive**, **generate** (the lowered plan and the rendered source), **solve**, **simulate**,
  and the **memory** they need (checked before a run allocates anything);
* **verify**: the class's own checks;
* **options**: which solver options of :mod:`dmftc.options` apply, and its default step count.

Heavy modules (the derivation, the solvers) are imported inside the methods, so that loading
a model imports only what its class needs.
"""

from __future__ import annotations

from collections.abc import Callable

from dmftc.errors import CodegenError, DerivationError


class ModelClass:
    name: str = ""  # the key of the registry, also the ``class`` of `dmftc check`
    noun: str = ""  # in messages: "'penalty' does not belong to {noun}"
    plural: str = ""  # in messages: "--method is for {plural}"
    summary: str = ""  # one line: what the class covers
    docs: str = ""  # the page of docs/ with its mathematics
    example: str = ""  # the statement that selects it, as a user writes it
    handlers: dict[type, Callable] = {}  # statement type -> handler(analyser, statement)
    statements: frozenset[type] = frozenset()  # class statements a model of this class may use
    aggregates: dict[str, str] = {}  # aggregate -> what it needs ("train": "a 'data' statement")
    allows_sphere: bool = False
    test_at_points: bool = False  # observables may use test(e at v)
    uses_spaces: bool = False  # variables live in declared index spaces (``weights w[n]``)
    default_steps: int = 50
    solve_options: frozenset[str] = frozenset()  # names of dmftc.options that `solve` takes
    simulate_options: frozenset[str] = frozenset()

    # -------------------------------------------------------------------------- analysis
    def defines(self, statement) -> bool:
        """True when ``statement`` selects this class (``data gaussian(...)``, ``landscape ...``)."""
        return False

    def reserved_names(self, statement) -> tuple[str, ...]:
        """Names a model of this class may not define, given its selecting statement."""
        return ()

    def finish(self, analyser, block):
        """The class's checks at the end of the analysis; returns its specification."""
        raise NotImplementedError

    def summary_rows(self, model) -> list[tuple[str, str, str]]:
        """Rows (kind, name, value) that `dmftc check` prints for the class's own statements."""
        return []

    def named_symbols(self, model) -> dict:
        """Name -> sympy symbol of the class's own names (teacher, prediction, label, ...), for
        equations written by users (`dmftc verify --against`)."""
        return {}

    # ------------------------------------------------------------------------ the pipeline
    def derive(self, model):
        raise DerivationError(f"the {self.name} class has no DMFT derivation", kind="not-available")

    def generate(self, derivation):
        """(generated source, plan) of the class's solver."""
        raise CodegenError(f"the {self.name} class has no generated code", kind="not-available")

    def solve(self, model, derivation, params: dict, options: dict, progress):
        raise NotImplementedError

    def simulate(self, model, derivation, params: dict, options: dict, progress):
        raise NotImplementedError

    def memory(self, dm, command: str, options: dict) -> int:
        """Bytes that ``command`` (solve or simulate) of the model ``dm`` (a ``DMFTModel``) needs
        with the resolved ``options``: its largest arrays, within a factor of about 2, computed
        without allocating them. Called before every run (:mod:`dmftc.runtime.memory`); it must
        grow with each size option (steps, samples, dim)."""
        raise NotImplementedError

    def result_memory(self, dm, options: dict) -> int:
        """Bytes of the dataset that ``solve`` returns with these options (a sweep holds one per
        point)."""
        raise NotImplementedError

    def checks(self, dm) -> list:
        """The class's own `dmftc verify` checks (:class:`dmftc.verify.checks.Check`)."""
        return []

    def derived_quantities(self, dm) -> dict:
        """Name -> sympy expression of what `dmftc verify --against` can compare: by default the
        value of each weight and state after one step."""
        return {v.name: dm.model.step_map[v.symbol] for v in dm.model.coordinates}

    def update_gradient(self, model, weight):
        """What plain gradient descent subtracts (times the learning rate) from ``weight``."""
        from dmftc.language.symbols import grad_symbol

        return grad_symbol(weight.name)

    def __repr__(self) -> str:
        return f"<model class {self.name}>"
