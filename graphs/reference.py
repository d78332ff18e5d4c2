"""The catalogue as a Markdown reference (docs/catalogue.md), generated from the data itself.

`python -m graphs.reference > docs/catalogue.md` regenerates it; `python -m graphs.reference --readme`
rewrites the README's table of node types by category. Tests keep both current.
"""

from __future__ import annotations

from graphs.catalogue import CATALOGUE, CATEGORIES


def _value(value) -> str:
    return "None" if value is None else repr(value).replace("'", "")


def _describe(spec) -> str:
    if spec.kind == "choice":
        return "one of " + ", ".join(f"`{c}`" for c in spec.choices)
    limits = []
    if spec.minimum is not None:
        limits.append(f">= {spec.minimum}")
    if spec.maximum is not None and spec.kind in ("int", "float"):
        limits.append(f"<= {spec.maximum}")
    kind = {"int_tuple": f"int or {spec.length} ints", "optional_int_tuple": f"int or {spec.length} ints",
            "int_list": "list of ints"}.get(spec.kind, spec.kind)
    return kind + (f" ({', '.join(limits)})" if limits else "")


def markdown() -> str:
    lines = ["# Node catalogue", "",
             "Generated from `graphs/catalogue.py` by `python -m graphs.reference`. Shapes leave out the batch.",
             "Inferred arguments are filled from the incoming shape; you never type them.",
             "Which types import from torch.fx and from ONNX: [import-coverage.md](import-coverage.md).", ""]
    for category in CATEGORIES:
        lines += [f"## {category}", ""]
        for name, spec in CATALOGUE.items():
            if spec.category != category:
                continue
            ports = ", ".join(f"{p} (optional)" if p in spec.optional else p for p in spec.input_ports()) or "none"
            lines += [f"### {name}", "", spec.doc, "",
                      f"Inputs: {ports}{' (count set by `inputs`)' if spec.variadic else ''}. "
                      f"Outputs: {', '.join(spec.output_ports())}."
                      + (f" Inferred: {', '.join(f'`{a}`' for a in spec.inferred)}." if spec.inferred else ""), ""]
            if spec.params:
                lines += ["| param | default | type |", "|---|---|---|"]
                lines += [f"| `{p.name}` | `{_value(p.default)}` | {_describe(p)}{'; ' + p.doc if p.doc else ''} |"
                          for p in spec.params]
                lines.append("")
    return "\n".join(lines)


README_NOTES = {"MultiheadAttention": "MultiheadAttention (self-attention)"}  # shown after a name in the README


def readme_table() -> str:
    """The README's "### The catalogue" table: every category with its node types, in catalogue order."""
    rows = ["| Category | Node types |", "|---|---|"]
    for category in CATEGORIES:
        names = [README_NOTES.get(name, name) for name, spec in CATALOGUE.items() if spec.category == category]
        rows.append(f"| {category} | {', '.join(names)} |")
    return "\n".join(rows)


def rewrite_readme(text: str) -> str:
    """`text` (the README) with its catalogue table replaced by `readme_table()`."""
    start = text.index("| Category | Node types |")
    end = text.index("\n\n", start)
    return text[:start] + readme_table() + text[end:]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:] == ["--readme"]:
        readme = Path(__file__).resolve().parents[1] / "README.md"
        readme.write_text(rewrite_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown(), end="")
