"""`check PROJECT [--json]`: validate the graph and infer shapes, like a model summary."""

from __future__ import annotations

import json

from engine.shapes import InferenceResult, fmt, infer
from graphs.errors import printable
from graphs.project import load_project


def add_parser(sub) -> None:
    parser = sub.add_parser("check", help="validate a project and print its model summary",
                            description="Validate a project's graph and infer every tensor shape. "
                                        "Exits 0 when valid, 2 when not (or when the file can't be read).")
    parser.add_argument("project", help="project file (.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(handler=run)


def summary(project, result: InferenceResult) -> dict:
    nodes = {}
    for node in project.graph.nodes():
        info = result.info.get(node.id)
        nodes[node.id] = {
            "type": node.type,
            "output_shapes": {p: list(s.shape) for p, s in info.outputs.items()} if info else {},
            "params": info.params if info else 0,
            "macs": info.macs if info else 0,
        }
    return {"valid": result.valid, "errors": [e.as_dict() for e in result.errors], "nodes": nodes,
            "total_params": result.total_params}


def format_table(project, result: InferenceResult) -> str:
    rows = [("node", "type", "output shape", "params", "MACs")]
    for node in project.graph.nodes():
        info = result.info.get(node.id)
        shape = ", ".join(fmt(s.shape) for s in info.outputs.values()) if info else "?"
        rows.append((node.id, node.type, shape, f"{info.params:,}" if info else "-", f"{info.macs:,}" if info else "-"))
    rows.append(("total", "", "", f"{result.total_params:,}", f"{result.total_macs:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        cells = [c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if i == 0 or i == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args) -> int:
    project = load_project(args.project)
    result = infer(project.graph)
    if args.json:
        print(json.dumps(summary(project, result)))
    else:
        print(f"{printable(project.name)} ({printable(str(args.project))})")
        print(format_table(project, result))
        if result.errors:
            print(f"\n{len(result.errors)} problem(s):")
            for error in result.errors:
                print(f"  node '{error.node}': {error.message}" if error.node else f"  {error.message}")
        else:
            print("\nvalid")
    return 0 if result.valid else 2
