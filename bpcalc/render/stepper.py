"""``bpcalc explain --step``: a derivation one step at a time on a terminal.

Enter (or space, n, →) shows the next step, b (or p, ←) shows the previous one again,
q (or Esc, Ctrl-C, Ctrl-D) quits. Steps are appended, not redrawn, so the ones already
seen stay in the scrollback. When stdin or stdout is not a terminal there is nobody to
press a key: every step is printed, numbered, and nothing waits.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from ..derivation import Derivation
from .derivation import TextRenderer, print_text

NEXT = {"\r", "\n", " ", "n", "j", "\x1b[C", "\x1bOC"}
BACK = {"b", "p", "k", "\x1b[D", "\x1bOD"}
QUIT = {"q", "Q", "\x1b", "\x03", "\x04"}


def interactive() -> bool:
    """Is there someone at a terminal to press keys?"""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def page(derivation: Derivation, console: Any, read_key: Callable[[], str] | None = None) -> int:
    """Show the steps one by one; returns how many steps were shown. Without a terminal
    (and no ``read_key`` given) this is :func:`print_text`."""
    if read_key is None:
        if not interactive():
            print_text(derivation, console)
            return len(derivation.steps)
        import click

        read_key = click.getchar
    renderer = TextRenderer(derivation, console)
    blocks = list(renderer.blocks())
    renderer.print(renderer.header())
    if not blocks:
        return 0
    index, shown = 0, 0
    renderer.print(renderer.block(blocks[0]))
    shown = 1
    while True:
        last = index == len(blocks) - 1
        prompt = (f"[step {index + 1}/{len(blocks)}] "
                  + ("end · b: back · q: quit" if last else "Enter: next · b: back · q: quit"))
        console.print(prompt, style="reverse" if console.is_terminal else "", end="",
                      markup=False, highlight=False)
        try:
            key = read_key()
        except (KeyboardInterrupt, EOFError):
            key = "q"
        console.file.write("\r\x1b[2K" if console.is_terminal else "\n")
        console.file.flush()
        if key in QUIT or (last and key in NEXT):
            break
        if key in NEXT:
            index += 1
        elif key in BACK and index > 0:
            index -= 1
        else:
            continue
        renderer.print(renderer.block(blocks[index]))
        shown = max(shown, index + 1)
    renderer.print(renderer.footer())
    return shown
