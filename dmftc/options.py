"""Every option of ``solve``, ``simulate`` and ``sweep``, declared once.

Each :class:`Option` has a type, a default, a help text, the commands it belongs to and the model
classes it applies to. From this table come the command-line flags (:func:`cli_parameters`), the
keyword arguments of :meth:`dmftc.DMFTModel.solve` and :meth:`~dmftc.DMFTModel.simulate`, their
validation (:func:`resolve`) and the CLI reference in docs/cli.md. A class says which options
it takes (``ModelClass.solve_options``, ``simulate_options``); giving one it does not take is an
error that names the classes it is for.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
import re
from dataclasses import dataclass
from enum import Enum

from dmftc.errors import SolverError, did_you_mean
from dmftc.runtime import memory
from dmftc.runtime.stepping import DEFAULT_FLOW_DT

SOLVE, SIMULATE = "solve", "simulate"


class Mode(str, Enum):
    auto = "auto"
    exact = "exact"
    monte_carlo = "monte-carlo"


class Responses(str, Enum):
    auto = "auto"
    jacobian = "jacobian"
    stein = "stein"


class Sampling(str, Enum):
    sobol = "sobol"
    antithetic = "antithetic"
    plain = "plain"


class Method(str, Enum):
    auto = "auto"
    dmft = "dmft"
    spectral = "spectral"
    coarse = "coarse"


@dataclass(frozen=True)
class Option:
    name: str  # the keyword argument; the flag is --name with '-' for '_'
    type: type  # int, float, bool, str or an Enum
    default: object  # None: "not given" (a class or the model decides)
    help: str
    commands: tuple[str, ...]
    short: str | None = None  # a one-letter flag
    minimum: float | None = None  # smallest allowed value (inclusive unless strict)
    strict: bool = False  # the value must be greater than minimum
    metavar: str | None = None
    size: bool = False  # a size of the problem: a run that does not fit in memory is told its largest value that does

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def text(self) -> str:
        """The help text, with the per-class default step counts filled in."""
        if "{class_steps}" not in self.help:
            return self.help
        from dmftc import classes

        steps = ", ".join(f"{c.name} {c.default_steps}" for c in classes.REGISTRY.values())
        return self.help.replace("{class_steps}", steps)


OPTIONS = (
    Option(
        "steps",
        int,
        None,
        "Number of steps (a flow runs steps x dt in time); default per class: {class_steps}.",
        (SOLVE, SIMULATE),
        short="T",
        minimum=1,
        size=True,
    ),
    Option(
        "samples",
        int,
        4000,
        "Monte-Carlo samples per side of the DMFT solver (at least 2 per replica).",
        (SOLVE,),
        short="M",
        minimum=2,
        size=True,
    ),
    Option(
        "replicas",
        int,
        4,
        "Monte-Carlo solves: independent replicas the samples are split into; the "
        "spread of their results is the standard error written as <name>_sem (1: no error estimate).",
        (SOLVE,),
        minimum=1,
    ),
    Option("seed", int, 0, "Random seed.", (SOLVE, SIMULATE), minimum=0),
    Option(
        "dt",
        float,
        None,
        f"Time step of a flow: model (default {DEFAULT_FLOW_DT}).",
        (SOLVE, SIMULATE),
        minimum=0,
        strict=True,
    ),
    Option(
        "mode",
        Mode,
        Mode.auto,
        "auto: the exact closure when the model is linear (matrix programs: or Gaussian), else Monte Carlo.",
        (SOLVE,),
    ),
    Option(
        "responses",
        Responses,
        Responses.auto,
        "Response estimator of a Monte-Carlo solve: auto picks "
        "Jacobians where the model has pointwise derivatives, else Stein's lemma.",
        (SOLVE,),
    ),
    Option(
        "sampling",
        Sampling,
        Sampling.sobol,
        "Random inputs of a Monte-Carlo solve: sobol (randomised quasi-Monte Carlo, samples per "
        "replica rounded to a power of 2), antithetic (pairs, orthonormalised) or plain.",
        (SOLVE,),
    ),
    Option(
        "average_over",
        str,
        None,
        "Average the predictor over these sources of randomness "
        "(comma-separated; data models: label-noise, init, data, noise; linear systems: init, noise, "
        "matrix) and add <name>_bias and <name>_variance.",
        (SOLVE,),
        metavar="SOURCES",
    ),
    Option(
        "tmax",
        float,
        None,
        "Solve a flow up to this time on the adaptive grid (the step starts at --dt and doubles; replaces --steps).",
        (SOLVE,),
        minimum=0,
        strict=True,
    ),
    Option(
        "window",
        int,
        None,
        "Times per window of the adaptive grid of --tmax (even; default 512). Its late-time bias "
        "falls like window^-0.75 and its cost grows like window^3 (docs/math/gaussian_field.md §5).",
        (SOLVE,),
        minimum=8,
    ),
    Option(
        "method",
        Method,
        Method.auto,
        "Linear models: dmft (the cavity closure) or spectral (integrals over the spectrum of "
        "the random matrix, or of the data's XᵀX). Data models, Monte Carlo: dmft (every step's "
        "history) or coarse (a decimated history, O(T) steps' worth less memory and time). auto: "
        "linear systems take the closure where it exists; data models take the spectral solver "
        "beyond 1000 steps, Monte Carlo the decimated history beyond 2000.",
        (SOLVE,),
    ),
    Option(
        "history_resolution",
        float,
        0.05,
        "Method coarse: a past step is forgotten when its neighbours are at most this fraction "
        "of their age and of their distance to the present apart (smaller: more accurate, slower).",
        (SOLVE,),
        minimum=0,
        strict=True,
    ),
    Option(
        "log_steps",
        int,
        None,
        "Write the result at step 0 and this many log-spaced steps instead of every step (data "
        "models; the spectral solver then computes the two-time functions only there). "
        "Default: every step up to 1000 steps, 256 log-spaced steps beyond.",
        (SOLVE,),
        minimum=1,
        metavar="K",
    ),
    Option(
        "euler",
        bool,
        False,
        "Linear systems, spectral method: take the Euler step of a flow (as the "
        "DMFT closure does) instead of the exact exponential.",
        (SOLVE,),
    ),
    Option(
        "dim", int, 1000, "Dimension d (or N) of the simulated system.", (SIMULATE,), short="d", minimum=2, size=True
    ),
    Option("runs", int, 10, "Independent runs of the simulation.", (SIMULATE,), short="K", minimum=1),
)
BY_NAME = {o.name: o for o in OPTIONS}


def for_command(command: str) -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS if command in o.commands)


def resolve(command: str, model_class, model, given: dict) -> dict:
    """Check the options ``given`` to ``command`` for a model of ``model_class`` and fill in the
    defaults; returns every option of the command that the class takes. An option given (not
    None) that the class does not take is an error."""
    known = {o.name for o in for_command(command)}
    for name in given:
        if name not in known:
            raise TypeError(
                f"{command}() got an unexpected keyword argument '{name}'"
                + (f" ({did_you_mean(name, known)})" if did_you_mean(name, known) else "")
            )
    takes = model_class.solve_options if command == SOLVE else model_class.simulate_options
    out = {}
    for option in for_command(command):
        value = given.get(option.name)
        if option.name not in takes:
            if value is not None and value != option.default:
                users = _classes_taking(option.name, command)
                raise SolverError(
                    f"{option.flag} is for {' and '.join(users)}, not for {model_class.noun} "
                    f"(class {model_class.name})",
                    kind="bad-option",
                )
            continue
        out[option.name] = plain(option.default) if value is None else plain(_checked(option, value))
    if "replicas" in out and out["samples"] < 2 * out["replicas"]:  # each replica averages at least a pair
        raise SolverError(
            f"--samples {out['samples']} is fewer than 2 per replica (--replicas {out['replicas']})",
            kind="bad-option",
            hint=f"give --samples {2 * out['replicas']} or more, or fewer --replicas",
        )
    if "steps" in out and out["steps"] is None and out.get("tmax") is None:  # tmax replaces steps
        out["steps"] = model_class.default_steps
    if "dt" in out:
        if model.time == "continuous":
            out["dt"] = DEFAULT_FLOW_DT if out["dt"] is None else out["dt"]
        elif out["dt"] is not None:
            raise SolverError("--dt is for flow: models; this model has a discrete update (update:)", kind="bad-option")
    return out


def check_memory(dm, command: str, options: dict) -> None:
    """Refuse ``command`` of the model ``dm`` (a ``DMFTModel``) with the resolved ``options`` when
    its class's estimate (``ModelClass.memory``) exceeds the memory available; the error names the
    largest value of each size option that fits (:mod:`dmftc.runtime.memory`)."""
    memory.require(
        lambda values: dm.model_class.memory(dm, command, values), options, f"{command} {dm.model.name}", _sizes()
    )


def check_sweep_memory(dm, options: dict, points: int, local: bool) -> None:
    """Refuse a sweep of ``points`` grid points with the solve ``options``: this process holds every
    point's result twice (as it arrives, and in the merged dataset), and a local cluster solves
    one point per core at once."""
    resolved = resolve(SOLVE, dm.model_class, dm.model, options)
    workers = (os.cpu_count() or 1) if local else 0

    def estimate(values: dict) -> int:
        per_point = 2 * dm.model_class.result_memory(dm, values) + memory.POINT_BYTES
        return values["points"] * per_point + workers * dm.model_class.memory(dm, SOLVE, values)

    what = f"sweep {dm.model.name} over {points} points"
    memory.require(estimate, resolved | {"points": points}, what, _sizes() | {"points": ("{} grid points", 1)})


def _sizes() -> dict[str, tuple[str, int]]:
    return {o.name: (o.flag + " {}", int(o.minimum)) for o in OPTIONS if o.size}


def plain(value):
    """Enum members as their values: the solvers compare and store plain strings."""
    return value.value if isinstance(value, Enum) else value


def parameter_value(value) -> float:
    """The number given for a model parameter (``-p NAME=VALUE``, a keyword of ``dmftc.load``, a
    sweep value): a real number (numpy scalars included), or text the model language reads as
    one, a signed NUMBER of grammars/dmft.lark (``0.1``, ``-2``, ``1e-3``; not ``0_1``, ``inf``,
    ``nan`` or non-ASCII digits, which Python's ``float`` takes). Raises ValueError saying why."""
    if isinstance(value, str):
        if not _number_pattern().fullmatch(value.strip()):
            raise ValueError(f"needs a number as a model file writes it, got '{value}'")
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"needs a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"must be finite, got {value}")
    return number


@functools.cache
def _number_pattern() -> re.Pattern:
    from dmftc.language.syntax import _parser  # the grammar's own NUMBER terminal

    return re.compile("[+-]?(?:" + _parser().get_terminal("NUMBER").pattern.to_regexp() + ")")


def _classes_taking(name: str, command: str) -> list[str]:
    from dmftc import classes

    return [
        c.plural
        for c in classes.REGISTRY.values()
        if name in (c.solve_options if command == SOLVE else c.simulate_options)
    ]


def _checked(option: Option, value):
    """``value`` converted to the option's type and checked against its range."""
    kind = option.type
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(value.value if isinstance(value, Enum) else value)
        except ValueError:
            choices = [c.value for c in kind]
            raise SolverError(
                f"{option.flag} must be one of {', '.join(choices)}, got {value!r}",
                kind="bad-option",
                hint=did_you_mean(str(value), choices),
            ) from None
    if kind is bool:
        if not isinstance(value, (bool, numbers.Integral)) or value not in (0, 1):
            raise SolverError(f"{option.flag} is true or false, got {value!r}", kind="bad-option")
        return bool(value)
    if kind is str:
        if not isinstance(value, str):
            value = ",".join(map(str, value))  # a list of sources
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, numbers.Real) and float(value).is_integer():
                value = int(value)
            else:
                raise SolverError(f"{option.flag} needs a whole number, got {value!r}", kind="bad-option")
        value = int(value)
    else:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SolverError(f"{option.flag} needs a number, got {value!r}", kind="bad-option")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise SolverError(f"{option.flag} must be finite, got {value}", kind="bad-option")
    if option.minimum is not None:
        low = option.minimum
        if value < low or (option.strict and value == low):
            relation = "greater than" if option.strict else "at least"
            raise SolverError(f"{option.flag} must be {relation} {low:g}, got {value}", kind="bad-option")
    return value


# ------------------------------------------------------------------------------ command line


def cli_parameters(command: str) -> list[inspect.Parameter]:
    """Typer parameters (keyword-only, annotated) for the options of ``command``."""
    from typing import Annotated

    import typer

    params = []
    for option in for_command(command):
        flags = [option.flag] + ([f"-{option.short}"] if option.short else [])
        if option.type is bool:
            flags = [f"{option.flag}/--no-{option.flag[2:]}"]
        info = typer.Option(
            *flags,
            help=option.text,
            show_default=option.default is not None,
            metavar=option.metavar,
            min=None if option.strict else option.minimum,
        )
        annotation = Annotated[option.type | None if option.default is None else option.type, info]
        params.append(
            inspect.Parameter(
                option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default, annotation=annotation
            )
        )
    return params


def api_signature(command: str) -> inspect.Signature:
    """The keyword arguments of DMFTModel.solve / simulate (None: not given)."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for option in for_command(command):
        params.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=f"{getattr(option.type, '__name__', option.type)} | None",
            )
        )
    params.append(inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=False, annotation="bool"))
    return inspect.Signature(params)


def api_doc(command: str, summary: str) -> str:
    """The docstring of DMFTModel.solve / simulate: ``summary`` and the options."""
    lines = [summary, "", "Keyword arguments (None or left out: the default)::", ""]
    for option in for_command(command):
        default = "per class" if option.default is None else repr(getattr(option.default, "value", option.default))
        lines.append(f"    {option.name} ({getattr(option.type, '__name__', option.type)}, default {default})")
        lines.append(f"        {option.text}")
    lines.append("    progress (bool, default False)")
    lines.append("        Show a progress bar on stderr.")
    return "\n".join(lines)
