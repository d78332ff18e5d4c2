"""The catalogue as a Markdown reference (docs/catalogue.md), generated from the data itself.

`python -m graphs.reference > docs/catalogue.md` regenerates it; a test keeps it current.
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


if __name__ == "__main__":
    print(markdown(), end="")
