"""The project's search space follows the model's nodes: renaming a node moves its sweep targets to the
new id, deleting one drops them, each inside the rename's or the delete's own undo step. Only the model's
own nodes are searched, so an edit inside a unit definition leaves the search space alone."""

from __future__ import annotations

import copy

from graphs.search_space import with_node_renamed, without_nodes


def _steps(controller, new: dict, text: str) -> list:
    from gui.workbench.search_dialog import SetSearch

    project = controller.project
    if controller.scope or new == project.search:
        return []
    return [SetSearch(project, copy.deepcopy(project.search), new, lambda: None, text)]


def after_rename(controller, old: str, new: str) -> list:
    """The command that moves node `old`'s search targets to `new` (none when it has none)."""
    return _steps(controller, with_node_renamed(controller.project.search, old, new), "Search follows rename")


def before_remove(controller, node_ids) -> list:
    """The command that drops the search targets of the nodes `node_ids` (none when they have none)."""
    return _steps(controller, without_nodes(controller.project.search, node_ids), "Stop searching removed nodes")
