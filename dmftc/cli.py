"""The ``dmftc`` command line (docs/cli.md).

Bad input never shows a traceback: every :class:`~dmftc.errors.DmftcError` is printed as a
compiler-style diagnostic and the command exits with status 2. A traceback means a bug. The
options of ``solve``, ``simulate`` and ``sweep`` come from the table of :mod:`dmftc.options`.
"""

from __future__ import annotations

import functools
import inspect
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dmftc import options as opts
from dmftc.errors import DmftcError, ParameterError
from dmftc.version import __version__

app = typer.Typer(
    name="dmftc",
    help="Compile a model of learning dynamics (.dmft) into DMFT equations, a solver and a finite-size simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

EXIT_BAD_INPUT = 2


def _handle_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DmftcError as e:
            err.print(e.render(), markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise typer.Exit(130) from None

    return wrapper


def _show_log(enabled: bool) -> None:
    """Print dmftc's progress messages (compile and run times) on stderr."""
    import logging

    from rich.logging import RichHandler

    logger = logging.getLogger("dmftc")
    logger.handlers.clear()
    if enabled:
        logger.addHandler(RichHandler(console=err, show_path=False, show_time=False))
        logger.setLevel(logging.INFO)


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``["lr=0.1", "b=0.5"]`` -> ``{"lr": "0.1", "b": "0.5"}`` (numbers are checked later)."""
    overrides: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ParameterError(f"-p expects NAME=VALUE, got '{item}'", kind="bad-override")
        if name in overrides:
            raise ParameterError(f"parameter '{name}' is set twice with -p", kind="bad-override")
        overrides[name] = value
    return overrides


def _version(value: bool):
    if value:
        out.print(f"dmftc {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    pass


ModelArg = Annotated[
    Path,
    typer.Argument(
        metavar="MODEL",
        help="The model file (.dmft), or the name of a bundled model (see 'dmftc models').",
        show_default=False,
    ),
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("-p", "--param", metavar="NAME=VALUE", help="Override a parameter (repeatable).")
]


class Format(str, Enum):
    text = "text"
    latex = "latex"
    markdown = "markdown"


def _with_options(command: str):
    """Give a command the flags of the options of ``command`` (dmftc.options); it receives them
    as one dict ``options`` (None: not given)."""
    extra = opts.cli_parameters(command)

    def decorate(func):
        fixed = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name != "options"]

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            options = {p.name: kwargs.pop(p.name) for p in extra}
            return func(*args, options=options, **kwargs)

        wrapper.__signature__ = inspect.Signature(fixed + extra)
        wrapper.__annotations__ = {p.name: p.annotation for p in fixed + extra}
        return wrapper

    return decorate


@app.command()
@_handle_errors
def check(model: ModelArg, param: ParamOpt = None):
    """Parse and validate a model; print a summary."""
    from dmftc.api import load

    _print_summary(load(model, **parse_overrides(param)))


def _print_summary(m) -> None:
    model = m.model
    out.print(f"[bold]{model.name}[/bold]  ({model.path})")
    kind = "update (discrete time)" if model.time == "discrete" else "flow (continuous time)"
    out.print(f"class: {model.cls}, dynamics: {kind}")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("kind")
    table.add_column("name")
    table.add_column("value / law")
    for row in m.model_class.summary_rows(model):
        table.add_row(*row)
    for w in model.weights:
        table.add_row("weight", w.name, w.init_text)
    for s in model.states:
        table.add_row("state", s.name, s.init_text)
    for p in model.params:
        value = m.params[p.name]
        default = "" if p.default.is_number else f"  (= {p.default})"
        table.add_row("parameter", p.name, f"{value:g}{default}")
    for o in model.observables:
        table.add_row("observe", o.name, o.text)
    out.print(table)


@app.command()
@_handle_errors
def models():
    """List the bundled models (any of them runs by its name: 'dmftc solve ridge_gd')."""
    from dmftc.resources import bundled_models

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("model")
    table.add_column("what")
    for name, path in bundled_models().items():
        first = path.read_text(encoding="utf-8").splitlines()[0]
        table.add_row(name, first.removeprefix("#").strip())
    out.print(table)


@app.command()
@_handle_errors
def derive(
    model: ModelArg,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    param: ParamOpt = None,
    sde: Annotated[
        bool,
        typer.Option(
            "--sde", help="Print the small-step diffusion limit of mini-batch SGD (models with 'batch size B') instead."
        ),
    ] = False,
):
    """Print the effective processes, the closure and the memory kernels."""
    from dmftc.api import load

    derivation = load(model, **parse_overrides(param)).derive(sde=sde)
    out.print(derivation.render(format.value), markup=False, soft_wrap=True)


@app.command()
@_handle_errors
def codegen(
    model: ModelArg,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Directory to write the generated source to (default: print it)."),
    ] = None,
):
    """Write the generated solver source, for reading."""
    from dmftc.api import load
    from dmftc.results.dataset import replacing

    source = load(model).codegen()
    if output is None:
        out.print(source.text, markup=False, soft_wrap=True)
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        reason = "it is not a directory" if isinstance(e, FileExistsError) else e.strerror or e
        raise DmftcError(f"cannot write into it: {reason}", kind="io", filename=str(output)) from None
    path = output / source.filename
    with replacing(path) as partial:
        partial.write_text(source.text, encoding="utf-8")
    err.print(f"wrote {path}", markup=False)


OutOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write the results (netCDF).")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Draw the observables (PNG).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no log on stderr.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Let -o overwrite an existing file that is not a dmftc result.")
]


def _check_outputs(model: Path | None, output: Path | None, plot: Path | None, force: bool = False) -> None:
    """Refuse, before any work, a -o or --plot path that cannot or should not be written."""
    from dmftc.resources import find_model
    from dmftc.results.dataset import check_output

    model_path = None if model is None else find_model(model)
    if output is not None:
        check_output(output, model_path=model_path, force=force)
    if plot is not None:
        from dmftc.results.plot import check_plot_path  # matplotlib only when plotting

        check_plot_path(plot, model_path=model_path)
        if output is not None and output.resolve() == plot.resolve():
            raise DmftcError("-o and --plot name the same file", kind="io", filename=str(plot))


@app.command()
@_handle_errors
@_with_options(opts.SOLVE)
def solve(
    model: ModelArg,
    param: ParamOpt = None,
    output: OutOpt = None,
    plot: PlotOpt = None,
    quiet: QuietOpt = False,
    force: ForceOpt = False,
    options: dict | None = None,
):
    """Solve the DMFT equations of a model."""
    from dmftc.api import load

    _check_outputs(model, output, plot, force)
    _show_log(not quiet)
    ds = load(model, **parse_overrides(param)).solve(progress=not quiet, **options)
    _finish_run(ds, output, plot)


@app.command()
@_handle_errors
@_with_options(opts.SIMULATE)
def simulate(
    model: ModelArg,
    param: ParamOpt = None,
    output: OutOpt = None,
    plot: PlotOpt = None,
    quiet: QuietOpt = False,
    force: ForceOpt = False,
    options: dict | None = None,
):
    """Simulate the finite-size system of a model: means and standard errors over runs."""
    from dmftc.api import load

    _check_outputs(model, output, plot, force)
    _show_log(not quiet)
    ds = load(model, **parse_overrides(param)).simulate(progress=not quiet, **options)
    _finish_run(ds, output, plot)


@app.command()
@_handle_errors
@_with_options(opts.SOLVE)
def sweep(
    model: ModelArg,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "-p",
            "--param",
            metavar="NAME=VALUES",
            help="Sweep a parameter over a:b:n (n values from a to b) or v1,v2,...; a single value fixes "
            "it (repeatable; the swept ones are the result's dimensions, in this order).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Address of a running Dask scheduler (default: a local cluster, one worker process per core).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Write the results (netCDF); a second run with the same file solves only the points missing from it "
            "(a new grid is joined to the file's).",
        ),
    ] = None,
    plot: PlotOpt = None,
    quiet: QuietOpt = False,
    force: ForceOpt = False,
    options: dict | None = None,
):
    """Solve a model over a grid of parameter values with Dask, into one result."""
    from dmftc.api import load
    from dmftc.results.sweep import parse_grid, run_sweep

    _check_outputs(model, output, plot, force)
    _show_log(not quiet)
    grid = parse_grid(parse_overrides(param))
    ds = run_sweep(load(model), grid, client=scheduler, output=output, progress=not quiet, force=force, **options)
    _print_sweep_summary(ds)
    if output is not None:
        err.print(f"wrote {output}", markup=False)
    if plot is not None:
        from dmftc.results.plot import plot_sweep

        plot_sweep(ds, plot)
        err.print(f"wrote {plot}", markup=False)


MAX_FAILURES_SHOWN = 20


def _print_sweep_summary(ds) -> None:
    """How many points were solved, and the parameters and message of each failed one."""
    from dmftc.results.sweep import swept_dims

    dims = swept_dims(ds)
    failed = ds["status"].values == "failed"
    shape = " × ".join(f"{name} ({ds.sizes[name]})" for name in dims)
    out.print(
        f"sweep of {ds.attrs['model']} over {shape}: {failed.size - failed.sum()} solved, {failed.sum()} failed",
        markup=False,
    )
    if not failed.any():
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in dims:
        table.add_column(name, justify="right")
    table.add_column("error")
    for index in list(zip(*failed.nonzero()))[:MAX_FAILURES_SHOWN]:
        values = [f"{ds[name].values[i]:g}" for name, i in zip(dims, index)]
        table.add_row(*values, str(ds["error"].values[index]))
    out.print(table)
    if failed.sum() > MAX_FAILURES_SHOWN:
        out.print(f"... and {failed.sum() - MAX_FAILURES_SHOWN} more (variable 'error' of the result)", markup=False)


def _finish_run(ds, output: Path | None, plot: Path | None) -> None:
    from dmftc.results.dataset import print_final_values, write

    print_final_values(ds, out)
    if output is not None:
        write(ds, output)
        err.print(f"wrote {output}", markup=False)
    if plot is not None:
        from dmftc.results.plot import plot_observables  # matplotlib only when plotting

        plot_observables([ds], plot)
        err.print(f"wrote {plot}", markup=False)


@app.command()
@_handle_errors
def verify(
    model: ModelArg,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against", help="A file of published equations (name = expression a line) to compare the derivation with."
        ),
    ] = None,
    param: ParamOpt = None,
):
    """Check the derivation: published forms, limits, causality, resolvents, generated code."""
    from dmftc.api import load
    from dmftc.verify.checks import FAIL

    checks = load(model, **parse_overrides(param)).verify(against)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("check", "status", "detail"):
        table.add_column(column, overflow="fold")
    colours = {"pass": "green", "fail": "red", "n/a": "dim"}
    for c in checks:
        table.add_row(c.name, f"[{colours[c.status]}]{c.status}[/]", c.detail)
    out.print(table)
    if any(c.status == FAIL for c in checks):
        raise typer.Exit(1)


@app.command()
@_handle_errors
def compare(
    file_a: Annotated[Path, typer.Argument(help="Results (netCDF), e.g. of 'dmftc solve'.")],
    file_b: Annotated[Path, typer.Argument(help="Results (netCDF), e.g. of 'dmftc simulate'.")],
    plot: PlotOpt = None,
):
    """Side-by-side table of two results, with deviations in standard errors, and an overlay."""
    from dmftc.results.compare import compare_files

    _check_outputs(None, None, plot)
    compare_files(file_a, file_b, out, plot)
    if plot is not None:
        err.print(f"wrote {plot}", markup=False)


@app.command()
@_handle_errors
def plot(
    files: Annotated[list[Path], typer.Argument(help="Results (netCDF) to overlay.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The PNG to write.")],
    two_time: Annotated[
        str | None,
        typer.Option("--two-time", help="Draw this two-time function (e.g. C_theta) as a heat map instead."),
    ] = None,
    variables: Annotated[
        list[str] | None, typer.Option("--var", help="Observables to draw (repeatable; default: all).")
    ] = None,
    at_step: Annotated[
        int | None,
        typer.Option("--at-step", min=0, help="Sweeps over two parameters: the step drawn (default: the last)."),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="NAME=VALUE",
            help="Sweeps: fix a swept parameter at (the grid value nearest to) VALUE (repeatable).",
        ),
    ] = None,
):
    """Draw observables against time (several files overlaid), or a two-time heat map.

    A sweep is drawn as curves per value (one swept parameter) or as heat maps of the values at
    one step over two swept parameters (a phase diagram).
    """
    from dmftc.results.plot import plot_files

    _check_outputs(None, None, output)
    plot_files(
        files,
        output,
        two_time=two_time,
        variables=variables,
        at_step=at_step,
        select=dict(item.partition("=")[::2] for item in select or ()),
    )
    err.print(f"wrote {output}", markup=False)


def main():  # the console script
    app()


if __name__ == "__main__":
    sys.exit(main())


def reference_markdown() -> str:
    """The command-line reference (docs/cli.md, written when the docs are built): every command
    with its arguments and options, from the Typer app and the options table."""
    import click

    group = typer.main.get_command(app)
    context = click.Context(group, info_name="dmftc")
    lines = [
        "# Command-line reference",
        "",
        "Generated from the command line itself (`dmftc COMMAND --help` prints the same). The "
        "options of `solve`, `simulate` and `sweep` are declared once, in `dmftc/options.py`, "
        "and exist as keyword arguments of the Python API too (docs/api.md). An option that does "
        "not apply to a model's class is refused with the classes it is for.",
        "",
    ]
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        lines += [
            f"## `dmftc {name}`",
            "",
            (command.help or "").strip(),
            "",
            "```text",
            command.get_usage(click.Context(command, info_name=f"dmftc {name}")),
            "```",
            "",
        ]
        rows = []
        for param in command.params:
            if param.name == "help":
                continue
            if isinstance(param, click.Argument):
                spelling = param.human_readable_name
            else:
                spelling = ", ".join(param.opts + list(param.secondary_opts))
            default = param.default if param.show_default and param.default not in (None, ()) else ""
            default = getattr(default, "value", default)
            text = (getattr(param, "help", None) or "").replace("|", "\\|")
            rows.append(f"| `{spelling}` | {text} | {'' if default == '' else f'`{default}`'} |")
        if rows:
            lines += ["| argument or option | what | default |", "| --- | --- | --- |", *rows, ""]
    return "\n".join(lines)
