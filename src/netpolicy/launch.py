"""The command's entry point (`netpolicy`, `kubectl-netpolicy`, `python -m netpolicy`).

It lives outside `netpolicy.cli` so that it runs before the command line's imports: those
(NumPy, typer, the engine) allocate some hundred thousand objects and no garbage, and a
cyclic collector left on would walk them again and again while they load (about 8 ms of a
200 ms start). What they leave is frozen out of every later collection's way.
"""

from __future__ import annotations

import gc


def main() -> None:
    collecting = gc.isenabled()
    gc.disable()
    try:
        from netpolicy.cli import main as run
    finally:
        if collecting:
            gc.freeze()
            gc.enable()
    run()
