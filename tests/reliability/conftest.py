"""The reliability suite: prints what it tried at the end of the run."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.reliability.*` helpers import from the repository root
    sys.path.insert(0, str(ROOT))

from tests.reliability.tally import FUZZ, lines  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    table = lines()
    if table:
        terminalreporter.section("reliability: what was tried" + (" (fuzz campaign)" if FUZZ else ""))
        for line in table:
            terminalreporter.write_line(line)
