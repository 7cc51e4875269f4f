"""``python -m staa.cli`` — the entry point ``torchrun --nproc-per-node N -m staa.cli ...`` needs."""

from staa.cli import main

main()
