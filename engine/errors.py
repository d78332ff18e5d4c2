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


MAX_REASON = 200  # characters of a library's error quoted in a message


def reason(error: BaseException, limit: int = MAX_REASON) -> str:
    """A library's error as one short line, for quoting in a `UserError`: it may hold the bytes of
    the user's file (newlines, control characters, a whole hostile header), which a message must
    not echo."""
    text = " ".join(str(error).split()) or type(error).__name__
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."
