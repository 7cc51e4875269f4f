"""The ``staa`` command: a thin typer layer over the library; no logic of its own.

Each command group lives in its own module and is mounted here. A command parses its options, calls
the library and prints; it imports the library inside its body, so ``staa --help`` (and every
``--help``) starts without loading torch. Defaults shown in help come from :mod:`staa.defaults`.

Wrong use ends the same way wherever it is found: a :class:`~staa.errors.StaaError`, a command-line
usage error (an unknown option, a value of the wrong type or range) and an operating-system error
(a full disk, a file that cannot be read or written) are each printed as one ``error: <what>: <problem>``
line with exit status 2, never as a traceback or a framed panel; a warning (a documented repair) is one
``warning: ...`` line.
"""

from __future__ import annotations

import sys
import warnings

import typer
import typer.main
from typer._click import exceptions as usage  # typer's own click: its usage errors are raised from here

from staa.cli import attack, common, data, defense, generator, run, ser
from staa.errors import StaaError
from staa.runtime import allocator

app = typer.Typer(
    help="Sparse and transferable adversarial attacks on speech emotion recognition.", no_args_is_help=True
)
app.add_typer(data.app, name="data", help="Prepare corpora (decode, resample, unify length, cache).")
app.add_typer(ser.app, name="ser", help="Train and evaluate SER models.")
app.add_typer(generator.app, name="generator", help="Train STAA-Net generators and apply them to audio.")
ATTACK_HELP = "Sparse attacks, universal perturbations, targeted success per class, ASR-versus-sparsity sweeps."
app.add_typer(attack.app, name="attack", help=ATTACK_HELP)
app.add_typer(defense.app, name="defense", help="Defenses, adversarial training and robust accuracy.")
RUN_HELP = "Run a whole experiment from a YAML file (prepare, train, attack, report)."
app.command("run", help=RUN_HELP, no_args_is_help=True)(run.run)  # one command, not a group


@app.callback()
def options(threads: int = typer.Option(None, "--threads", min=1, max=1024, help=common.THREADS_HELP)) -> None:
    """Sparse and transferable adversarial attacks on speech emotion recognition."""
    common.use_threads(threads)
    allocator.keep_freed_memory()


def main() -> None:
    warnings.formatwarning = _warning_line
    common.current_out = None  # set by the command once it has checked its output folder
    try:
        code = common.finite_numbers(typer.main.get_command(app))(standalone_mode=False)
    except StaaError as exc:
        _fail(str(exc))
    except usage.NoArgsIsHelpError as exc:  # `staa`, `staa ser`: the help, as typer shows it
        exc.show()
        sys.exit(exc.exit_code)
    except usage.UsageError as exc:
        message = " ".join(exc.format_message().split())
        where = f"{exc.ctx.command_path}: " if exc.ctx is not None and ": " not in message else ""
        _fail(f"{where}{message} (see --help)")
    except typer.Abort:  # end of input at a prompt: as an interrupted command
        code = 130
    except BrokenPipeError:  # the reader went away (`staa ... | head`): nothing left to tell
        sys.exit(1)
    except OSError as exc:  # a last resort: the operations themselves check what they can up front
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
    if code == 130:  # Ctrl-C (typer's own status for it): not wrong use; say what stays and how to go on
        typer.echo(_aborted_line(), err=True)
    if code in (0, None) and "torch.distributed" in sys.modules:  # a finished command under torchrun
        from staa.runtime import distributed

        distributed.shutdown()
    sys.exit(code or 0)


def _aborted_line() -> str:
    """The one line of an interrupted command: finished outputs stay, a rerun resumes from them."""
    if common.current_out is None:
        return "aborted: finished files are kept; run the same command again to resume"
    return (
        f"aborted: the outputs finished so far stay in {common.current_out} (a file being written is not kept); "
        "run the same command again to resume from them"
    )


def _warning_line(message: Warning | str, *_: object, **__: object) -> str:
    """A warning (a documented repair, e.g. a clip clipped to [-1, 1]) as one ``warning:`` line."""
    return f"warning: {' '.join(str(message).split())}\n"


def _fail(message: str) -> None:
    """Print ``error: MESSAGE`` as one line on stderr and exit with status 2."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(2)
