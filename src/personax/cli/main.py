"""Entry point of the ``personax`` command.

Exit codes: 0 success; 2 bad input (one sentence on stderr naming the file, column, row or
value); 1 unexpected failure (traceback with ``--debug``); 130 interrupted (Ctrl-C); 143
terminated (SIGTERM).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback

import typer

try:  # recent typer vendors click as typer._click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover
    from click import ClickException, UsageError

import personax.cli
from personax import __version__
from personax.cli.groups import mount
from personax.errors import BadInput

app = typer.Typer(
    name="personax",
    help="PersonaX: LLM-inferred Big Five behaviour traits — build datasets, test "
    "independence, learn causal latent structure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Every module of personax.cli that defines ``register(app)`` adds its commands; modules are
# found automatically, so a verb group is live as soon as its file exists. They import heavy
# libraries (torch, sklearn, ...) inside the commands so that `personax --help` stays fast.
# (There is no list of modules to edit: just add `src/personax/cli/<name>.py` with `register`.)
_COMMAND_MODULES = tuple(
    info.name
    for info in pkgutil.iter_modules(personax.cli.__path__)
    if info.name not in ("main", "groups")
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"personax {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """PersonaX toolkit."""


for _name in _COMMAND_MODULES:
    _module = importlib.import_module(f"personax.cli.{_name}")
    if hasattr(_module, "register"):
        _module.register(app)
mount(app)


INTERRUPTED = 130  # the shell's code for a process ended by SIGINT (128 + 2)
TERMINATED = 143  # ... and by SIGTERM (128 + 15)


_signal_received: list[int] = []  # set by the SIGTERM handler; typer reports both as Exit(130)


def _raise_terminated(signum: int, frame: object) -> None:
    """SIGTERM (a job scheduler's stop, `kill`) unwinds like Ctrl-C, so every temporary output
    is removed on the way out; the default action killed the process and left them behind."""
    _signal_received.append(signum)
    raise KeyboardInterrupt


def _one_line(message: str) -> str:
    """Escape control characters (newlines, record separators, ...) that user data such as a
    column name can carry, so the error stays the one line the contract promises."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _given_value(args: list[str], param: object) -> str | None:
    """The text the user gave for the option ``param`` (the last time, as click reads it);
    None for an argument, a flag, or an option not on the command line. Newer click messages
    leave the value out ("Input should be a valid integer")."""
    value = None
    for option in getattr(param, "opts", ()):
        if not option.startswith("-"):
            return None
        for k, arg in enumerate(args):
            if arg == option and k + 1 < len(args):
                value = args[k + 1]
            elif arg.startswith(option + "="):
                value = arg[len(option) + 1 :]
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises, never calls sys.exit)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        # Without standalone mode, click returns (rather than raises) the code of a typer.Exit.
        result = command.main(args=args, prog_name="personax", standalone_mode=False)
    except typer.Exit as exc:
        result = int(exc.exit_code)
    except UsageError as exc:
        # A wrong option or value is bad input like any other: one sentence, exit 2 — not
        # click's three-line usage block.
        where = exc.ctx.command_path if exc.ctx is not None else "personax"
        message = _one_line(exc.format_message()).rstrip(".")
        given = _given_value(args, getattr(exc, "param", None))
        if given is not None:
            message += f" (got {given!r})"
        print(f"personax: error: {message}; `{where} --help` lists the options.", file=sys.stderr)
        return 2
    except ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        result = INTERRUPTED
    except BadInput as exc:
        if debug:
            traceback.print_exc()
        print(f"personax: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 — the CLI boundary maps everything to an exit code
        if debug:
            traceback.print_exc()
        print(
            f"personax: unexpected error ({type(exc).__name__}): {exc}. "
            "Run again with --debug for the traceback.",
            file=sys.stderr,
        )
        return 1
    if result == INTERRUPTED and _signal_received:
        print("personax: terminated.", file=sys.stderr)
        return TERMINATED
    if result == INTERRUPTED:
        # typer turns Ctrl-C into Exit(130), which click returns as a plain code: say why.
        print("personax: interrupted.", file=sys.stderr)
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    import signal

    # Only here, not in main(): main() also runs inside other programs (the tests), whose
    # signal handling is theirs.
    signal.signal(signal.SIGTERM, _raise_terminated)
    sys.exit(main())
