"""The Neurocanvas document: nodes, ports, edges, the layer catalogue as data,
structural validation and the versioned JSON project format.

This package imports neither Qt nor torch, so the engine, the CLI and the GUI
can all share it, and it loads in milliseconds.
"""

from graphs.catalogue import CATALOGUE, NodeType, ParamSpec, node_type
from graphs.document import Edge, Graph, Node
from graphs.errors import GraphError, ParamError, ProjectFormatError
from graphs.project import Project, load_project, save_project
from graphs.validate import validate

__all__ = [
    "CATALOGUE", "Edge", "Graph", "GraphError", "Node", "NodeType", "ParamError", "ParamSpec",
    "Project", "ProjectFormatError", "load_project", "node_type", "save_project", "validate",
]
