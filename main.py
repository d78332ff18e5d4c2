"""Neurocanvas entry point.

`python main.py` opens the editor on a ready example (or the last project);
`python main.py PROJECT.json` opens that project; subcommands (`check`, `train`,
`export`, ...) run headless. Heavy imports (torch, Qt) happen inside the command
that needs them, so `check` and `--help` start fast.
"""

from __future__ import annotations

import sys


def _opens_gui(argv: list[str]) -> bool:
    from engine.cli import COMMANDS

    commands = {c.replace("_", "-") for c in COMMANDS}
    return not argv or (len(argv) == 1 and not argv[0].startswith("-") and argv[0] not in commands)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if _opens_gui(argv):
        from gui.app import main as run_editor

        run_editor(argv[0] if argv else None)  # ends the process when the window has closed
    from engine.cli import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
