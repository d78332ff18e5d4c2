"""Neurocanvas entry point.

With no arguments it opens the editor on a ready example (or the last project);
`python main.py PROJECT` opens that project; subcommands (`check`, `train`,
`export`, ...) run headless. Heavy imports (torch, Qt) happen inside the
command that needs them, so `check` and `--help` start fast.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cli import run

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
