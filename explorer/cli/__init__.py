"""`explore`: the command-line interface, a thin Click layer over the Python API.

Each puzzle's command lives in its own module under explorer/cli/ and registers itself on the
`solve` group; heavy libraries (ortools, scipy, matplotlib, pandas) are imported only by the
commands that need them.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from explorer.errors import ExplorerError
from explorer.validation import one_line

# Modules that add commands (each adds itself to `main` or to `solve` on import).
COMMAND_MODULES = (
    "explorer.cli.solve_3d",
    "explorer.cli.estimate",
    "explorer.cli.plan_cmds",
    "explorer.cli.sweep_cmd",
)
OPTIONAL_COMMAND_MODULES = (
    "explorer.cli.solve_scaling", "explorer.cli.solve_sync",
    "explorer.cli.solve_crossover", "explorer.cli.solve_hierarchy", "explorer.cli.solve_compression",
    "explorer.cli.solve_memory", "explorer.cli.solve_dataloader", "explorer.cli.solve_batch",
    "explorer.cli.reports_cmds", "explorer.cli.validate", "explorer.cli.lab",
)


class AnyCaseGroup(click.Group):
    """A group whose subcommands are found in any case (`explore SOLVE 3D`), as their choices are (common.choice) and
    as the Python API reads names; option names stay as written, so a repeated option is always caught."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or super().get_command(ctx, cmd_name.lower())


class ExplorerGroup(AnyCaseGroup):
    """The top-level group: in standalone mode (the console script, CliRunner) every error becomes one
    line on stderr (at most 80 characters of a bad value quoted) and an exit code: 2 for usage, 1 for
    infeasible or refused; never a traceback (EXPLORER_DEBUG=1 shows it)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001, ANN201
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        code = 0
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            code = 1
        except click.UsageError as exc:  # one line, with the command to ask for help
            cmd = exc.ctx.command_path if exc.ctx else "explore"
            click.echo(f"error: {one_line(exc.format_message())} (see '{cmd} --help')", err=True)
            code = 2
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc.format_message())}", err=True)
            code = exc.exit_code
        except ExplorerError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)
            code = exc.exit_code
        except BrokenPipeError:
            code = 0
        except OSError as exc:  # a file the command could not read or write: its path and why, exit 2
            if exc.filename is None or os.environ.get("EXPLORER_DEBUG"):
                code = _internal(exc)
            else:
                from explorer.reports.render import shown_path

                click.echo(f"error: {one_line(shown_path(exc.filename))}: "
                           f"{(exc.strerror or type(exc).__name__).lower()}", err=True)
                code = 2
        except Exception as exc:  # never a traceback for the user; EXPLORER_DEBUG=1 shows it
            code = _internal(exc)
        sys.exit(code)


def _internal(exc: Exception) -> int:
    """An error nobody expected: one line, exit 1 (EXPLORER_DEBUG=1 re-raises it for the traceback)."""
    if os.environ.get("EXPLORER_DEBUG"):
        raise exc
    click.echo(f"internal error: {type(exc).__name__}: {one_line(str(exc))} "
               f"(set EXPLORER_DEBUG=1 for the traceback)", err=True)
    return 1


def repeated_options(cmd: click.Command, args: list[str]) -> list[str]:
    """The options of `cmd` that `args` gives more than once, as typed ('--gpus', '--gpus'), where the option takes one
    value (not `multiple`): Click keeps the last silently, so `--gpus 8 --gpus 16` would run on 16 GPUs without a
    word. A flag pair counts as one option (--zero --no-zero). Empty when none repeats."""
    names: dict[str, str] = {}
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.multiple and not p.count and p.name:
            for o in (*p.opts, *p.secondary_opts):
                names[o] = p.name
    seen: dict[str, list[str]] = {}
    for tok in args:
        if tok == "--":
            break
        key = tok.split("=", 1)[0] if tok.startswith("--") else tok
        if key in names:
            seen.setdefault(names[key], []).append(key)
    return next((typed for typed in seen.values() if len(typed) > 1), [])


class OnceCommand(click.Command):
    """A command whose single-valued options may be given once: a repeat is a usage error (exit 2) naming it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        typed = repeated_options(self, args)
        if len(set(typed)) > 1:  # --zero --no-zero, --devices --nodes: two spellings of one setting
            raise click.UsageError(f"{' and '.join(dict.fromkeys(typed))} set the same option: give one of them",
                                   ctx=ctx)
        if typed:
            raise click.UsageError(f"{typed[0]} is given {len(typed)} times: give it once (only the last would "
                                   f"count)", ctx=ctx)
        return super().parse_args(ctx, args)


class CheckedOutputCommand(OnceCommand):
    """An `explore solve PUZZLE` command: the file --out DIR will receive (<puzzle>-<track>.<ext>) is checked
    once the options are parsed, before solving (a directory or an unwritable file in its place is a one-line
    error, exit 2, not an internal error after the whole solve), as --out's help promises."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        out_dir, fmt, track = (ctx.params.get(k) for k in ("out_dir", "fmt", "track"))
        if out_dir is not None and isinstance(fmt, str) and isinstance(track, str) and self.name:
            from explorer.reports.render import EXTENSIONS, check_targets, stem_for

            try:
                name = f"{stem_for(self.name, track)}.{EXTENSIONS[fmt]}"
            except (ValueError, KeyError):  # not a puzzle's name or format: writing will say what is wrong
                name = None
            if name:
                check_targets(out_dir, [name])
        return super().invoke(ctx)


class SolveGroup(AnyCaseGroup):
    """`explore solve`: its subcommands check their output file before solving (CheckedOutputCommand)."""

    command_class = CheckedOutputCommand


ExplorerGroup.command_class = OnceCommand
ExplorerGroup.group_class = AnyCaseGroup


@click.group(cls=ExplorerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="explorer")
def main() -> None:
    """Design-space explorer for distributed ML training: proven optima for the lab puzzles."""
    from explorer.keywords import FLAG_SPELLING

    token = FLAG_SPELLING.set(True)  # errors from the library keep the command line's --flags (python_spelling)
    click.get_current_context().call_on_close(lambda: FLAG_SPELLING.reset(token))


@main.group(cls=SolveGroup)
def solve() -> None:
    """Solve one lab part for a track (see `explore solve PUZZLE --help`)."""


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    for name in OPTIONAL_COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def run() -> None:
    """Console-script entry point: one-line errors, exit 2 for usage, 1 for infeasible (see ExplorerGroup)."""
    _register()
    main.main()


_register()
