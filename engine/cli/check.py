"""`check PROJECT [--json]`: validate the graph and infer shapes, like a model summary.

Input and Target nodes left without a shape take it from the project's dataset,
exactly as `train` does (`engine.data_shapes`); only then is the data loaded.
`--json` prints exactly one object, also for a file that can't be read.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from engine.augment_check import augment_problems
from engine.custom_layers.trust import add_trust_flag, code_loader
from engine.data_shapes import graph_as_trained, shapeless_data_nodes
from engine.errors import UserError, listing
from engine.fixes import affordable, suggest
from engine.memory_budget import parameter_problem
from engine.memory_estimate import training_memory
from engine.shapes import InferenceResult, fmt, infer
from engine.unit_summary import summary_tree
from graphs.errors import GraphError, ProjectFormatError, printable
from graphs.project import load_project
from graphs.search_space import search_space_problems


def add_parser(sub) -> None:
    parser = sub.add_parser("check", help="validate a project and print its model summary",
                            description="Validate a project's graph and infer every tensor shape. "
                                        "Exits 0 when valid, 2 when not (or when the file can't be read).")
    parser.add_argument("project", help="project file (.json)")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--batch-size", type=int, default=None, metavar="B",
                        help="also estimate a training step's peak memory at this batch size")
    parser.set_defaults(handler=run)


def summary(project, result: InferenceResult, graph=None) -> dict:
    """The JSON report; each error of `graph` (the graph checked) lists its suggested fixes."""
    nodes = {}
    for node in project.graph.nodes():
        info = result.info.get(node.id)
        nodes[node.id] = {
            "type": node.type,
            "output_shapes": {p: list(s.shape) for p, s in info.outputs.items()} if info else {},
            "params": info.params if info else 0,
            "macs": info.macs if info else 0,
        }
    for row in summary_tree(project.graph, result) if result.expanded is not None else ():
        if row.children and row.node in nodes:  # an instance or Repeat: its copies and layers, folded under it
            nodes[row.node]["children"] = [child.as_dict() for child in row.children]
    errors = [e.as_dict() for e in result.errors]
    look = graph is not None and affordable(graph, result)
    for error, entry in zip(result.errors, errors):
        entry["fixes"] = [f.as_dict() for f in suggest(graph, result, error)] if look else []
    return {"valid": result.valid, "errors": errors, "nodes": nodes,
            "total_params": result.total_params}


def format_table(project, result: InferenceResult) -> str:
    rows = [("node", "type", "output shape", "params", "MACs")]
    if result.expanded is not None:  # a model with units: each instance's copies and layers indented under it
        for top in summary_tree(project.graph, result):
            for depth, row in top.walk():
                known = row.shapes or row.children
                rows.append(("  " * depth + row.name, row.type, row.shape_text, f"{row.params:,}" if known else "-",
                             f"{row.macs:,}" if known else "-"))
    for node in project.graph.nodes() if result.expanded is None else ():
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


def unreadable(error: Exception) -> dict:
    """The JSON summary of a file that can't be read: invalid, its one error, no nodes."""
    return {"valid": False, "errors": [{"node": None, "port": None, "message": str(error), "fixes": []}],
            "nodes": {},
            "total_params": 0}


def graph_to_check(project) -> tuple:
    """(the graph as `train` would see it, the nodes whose shapes came from the data, errors loading it or
    fitting it: an Embedding smaller than a text dataset's vocabulary)."""
    base_dir = project.path.parent if project.path else Path.cwd()
    try:
        graph, dataset = graph_as_trained(project.graph, project.training, base_dir)
    except UserError as error:
        name = project.training["dataset"].get("name")
        return project.graph, [], [
            GraphError(f"{project.graph.node(node_id).type} '{node_id}' takes its shape from dataset "
                       f"{listing([name])}, which can't be loaded: {error}", node=node_id)
            for node_id in shapeless_data_nodes(project.graph)]
    if dataset is None:
        return graph, [], []
    from engine.data.fit import vocabulary_errors  # the data is loaded, and torch with it

    return graph, shapeless_data_nodes(project.graph), vocabulary_errors(graph, dataset)


def run(args) -> int:
    try:
        project = load_project(args.project, code_loader(args.trust_code))
    except (ProjectFormatError, GraphError, UserError) as error:
        if args.json:
            print(json.dumps(unreadable(error)))
        raise  # and one line on stderr, exit 2
    graph, from_data, load_errors = graph_to_check(project)
    result = infer(graph)
    if load_errors:  # they replace "has no shape" on the nodes they name
        named = {e.node for e in load_errors}
        result = replace(result, errors=load_errors + [e for e in result.errors if e.node not in named])
    too_large = parameter_problem(graph, result) if result.valid else None
    if too_large:  # as train and export refuse it, before allocating
        result = replace(result, errors=[too_large])
    search_problems = search_space_problems(project.search, project.graph, project.training)
    if search_problems:  # a sweep would refuse them, so check reports them too
        result = replace(result, errors=result.errors + search_problems)
    augment_errors = augment_problems(project.training, graph, result)
    if augment_errors:  # train would refuse the list before its first step
        result = replace(result, errors=result.errors + augment_errors)
    try:
        layers = (result.expanded.graph, result.flat) if result.expanded is not None else (graph, result)
        memory = training_memory(project, *layers, args.batch_size)  # engine.memory_estimate, per layer
    except UserError as error:
        if args.json:
            print(json.dumps(unreadable(error)))
        raise
    if args.json:
        print(json.dumps({**summary(project, result, graph), **({"memory": memory.as_dict()} if memory else {})}))
    else:
        print(f"{printable(project.name)} ({printable(str(args.project))})")
        if from_data:
            print(f"shapes of {listing(from_data)} from dataset {listing([project.training['dataset']['name']])}")
        print(format_table(project, result))
        if result.errors:
            print(f"\n{len(result.errors)} problem(s):")
            for error in result.errors:
                print(f"  node '{error.node}': {error.message}" if error.node else f"  {error.message}")
                for fix in suggest(graph, result, error) if affordable(graph, result) else []:
                    print(f"    fix: {printable(fix.title)}")
        else:
            print("\nvalid")
        if memory:
            print(f"training memory (estimate): {memory.describe()}")
    return 0 if result.valid else 2
