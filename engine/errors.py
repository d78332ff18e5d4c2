"""Errors the engine reports to a person: a message, never a traceback.

`UserError` is anything caused by the user's input (a missing data file, a bad
CSV cell, an unknown optimiser); the CLI prints it and exits 2, the GUI shows
it in a dialog.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, described in one clear sentence."""

    def __init__(self, message: str, hint: str = ""):
        self.message = message
        self.hint = hint
        super().__init__(f"{message}{' ' + hint if hint else ''}")
