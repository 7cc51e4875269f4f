"""The ``staa`` command: a thin typer layer over the library; no logic of its own.

Each command group lives in its own module and is mounted here. A command parses its options, calls
the library and prints; it imports the library inside its body, so ``staa --help`` (and every
``--help``) starts without loading torch. Defaults shown in help come from :mod:`staa.defaults`. Any
:class:`~staa.errors.StaaError` is printed as one ``error: ...`` line with exit status 2.
"""

from __future__ import annotations

import sys

import typer

from staa.cli import attack, data, defense, generator, run, ser
from staa.errors import StaaError

app = typer.Typer(help="Sparse and transferable adversarial attacks on speech emotion recognition.", no_args_is_help=True)
app.add_typer(data.app, name="data", help="Prepare corpora (decode, resample, unify length, cache).")
app.add_typer(ser.app, name="ser", help="Train and evaluate SER models.")
app.add_typer(generator.app, name="generator", help="Train STAA-Net generators and apply them to audio.")
ATTACK_HELP = "Sparse attacks, universal perturbations, targeted success per class, ASR-versus-sparsity sweeps."
app.add_typer(attack.app, name="attack", help=ATTACK_HELP)
app.add_typer(defense.app, name="defense", help="Defenses, adversarial training and robust accuracy.")
RUN_HELP = "Run a whole experiment from a YAML file (prepare, train, attack, report)."
app.command("run", help=RUN_HELP, no_args_is_help=True)(run.run)  # one command, not a group


def main() -> None:
    try:
        app()
    except StaaError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except SystemExit as exc:
        if exc.code in (0, None) and "torch.distributed" in sys.modules:  # a finished command under torchrun
            from staa import distributed

            distributed.shutdown()
        raise
