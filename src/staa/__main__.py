"""``python -m staa``: the ``staa`` command."""

from staa.cli import main

main()
