"""`Explanation`: what a node type (or optimiser, schedule) does, its formula, when to use it, a common mistake."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    what: str  # two or three sentences
    formula: str  # plain text / unicode math
    when: str
    mistake: str

    def fields(self) -> list[tuple[str, str]]:
        """(heading, text) pairs in reading order."""
        return [("What", self.what), ("Formula", self.formula), ("When to use", self.when),
                ("Common mistake", self.mistake)]

    def to_html(self) -> str:
        """Rich text for a tooltip or a label (every field escaped)."""
        rows = []
        for heading, text in self.fields():
            body = html.escape(text)
            if heading == "Formula":
                body = f"<code>{body}</code>"
            rows.append(f"<b>{heading}:</b> {body}")
        return "<br>".join(rows)


def E(what: str, formula: str, when: str, mistake: str) -> Explanation:  # noqa: N802  (reads like a table row)
    return Explanation(what, formula, when, mistake)
