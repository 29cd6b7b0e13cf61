"""Renderers: core results (solutions, derivations, grades) -> tables, Markdown, LaTeX, JSON.

The only package besides ``bpcalc.cli`` that may import Rich, and only inside
the functions that draw, so ``--format json`` never pays for it.
"""
