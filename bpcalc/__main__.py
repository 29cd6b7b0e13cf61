"""``python -m bpcalc``: the same command as ``bpcalc``."""

from .cli import main

main(prog_name="bpcalc")
