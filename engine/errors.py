"""Errors the engine reports to a person: a message, never a traceback.

`UserError` is anything caused by the user's input (a missing data file, a bad
CSV cell, an unknown optimiser); the CLI prints it and exits 2, the GUI shows
it in a dialog.
"""

from __future__ import annotations

from graphs.errors import printable, quoted


class UserError(Exception):
    """A problem with the user's input, described in one clear sentence (or a short list, one line
    each).

    Whatever the sentence quotes from the user's files (a column name, an array name, a folder
    name) is made printable: control characters are written as escapes. Line breaks stay only
    where the message puts them between its lines; a quoted name should go through
    `graphs.errors.quoted` (or `listing`), which escapes its newlines too."""

    def __init__(self, message: str, hint: str = ""):
        self.message = "\n".join(printable(line) for line in message.split("\n"))
        self.hint = printable(hint)
        super().__init__(f"{self.message}{' ' + self.hint if self.hint else ''}")


def listing(names, limit: int = 8) -> str:
    """Up to `limit` of `names` quoted and comma-separated, then how many more there are."""
    names = list(names)
    shown = ", ".join(quoted(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


MAX_REASON = 200  # characters of a library's error quoted in a message


def reason(error: BaseException, limit: int = MAX_REASON) -> str:
    """A library's error as one short line, for quoting in a `UserError`: it may hold the bytes of
    the user's file (newlines, control characters, a whole hostile header), which a message must
    not echo."""
    text = " ".join(str(error).split()) or type(error).__name__
    text = printable(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."
