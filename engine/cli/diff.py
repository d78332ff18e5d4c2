"""`diff RUN_A RUN_B [--json]`: what differs between two runs: the settings, the graph (nodes added and
removed, params changed, wires added and removed) and the final metrics side by side. RUN_A and RUN_B
are run folders. Imports no torch.
"""

from __future__ import annotations

import json

from engine.custom_layers.trust import add_trust_flag, code_loader
from graphs.errors import printable


def add_parser(sub) -> None:
    parser = sub.add_parser("diff", help="compare two runs: settings, graph and metrics",
                            description="Compare two run folders: the training settings that differ, the graph "
                                        "diff (nodes added, removed, params changed, wires changed) and the final "
                                        "metrics side by side.")
    parser.add_argument("run_a", metavar="RUN_A", help="a run folder")
    parser.add_argument("run_b", metavar="RUN_B", help="another run folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_trust_flag(parser)  # engine.custom_layers: runs of a project with its own code
    parser.set_defaults(handler=run)


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return printable(json.dumps(value) if isinstance(value, (dict, list)) else str(value))


def _edge(edge) -> str:
    return printable(f"{edge.source}.{edge.source_port} -> {edge.target}.{edge.target_port}")


def format_comparison(comparison) -> str:
    a, b = comparison.a.folder.name, comparison.b.folder.name
    lines = [printable(f"A: {comparison.a.folder}"), printable(f"B: {comparison.b.folder}"), "", "settings that differ:"]
    lines += [f"  {printable(name)}: {_value(va)} -> {_value(vb)}" for name, (va, vb) in comparison.settings.items()]
    if not comparison.settings:
        lines.append("  none")
    graph = comparison.graph
    lines += ["", "graph:"]
    lines += [f"  + node {printable(node)} ({printable(comparison.b.project.graph.node(node).type)})"
              for node in graph.added]
    lines += [f"  - node {printable(node)} ({printable(comparison.a.project.graph.node(node).type)})"
              for node in graph.removed]
    for node, params in graph.changed.items():
        lines += [f"  ~ {printable(node)}.{printable(name)}: {_value(va)} -> {_value(vb)}"
                  for name, (va, vb) in params.items()]
    lines += [f"  + wire {_edge(edge)}" for edge in graph.edges_added]
    lines += [f"  - wire {_edge(edge)}" for edge in graph.edges_removed]
    if graph.empty:
        lines.append("  the same")
    rows = [("metric", printable(a), printable(b))]
    rows += [(printable(name), "-" if va is None else _value(va), "-" if vb is None else _value(vb))
             for name, va, vb in comparison.metrics()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += ["", "final metrics:"]
    lines += ["  " + "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
              for row in rows]
    return "\n".join(lines)


def run(args) -> int:
    from engine.history.compare import compare_runs

    comparison = compare_runs(args.run_a, args.run_b, code_loader(args.trust_code))
    print(json.dumps(comparison.as_dict(), default=str) if args.json else format_comparison(comparison))
    return 0
