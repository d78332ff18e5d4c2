"""The training workbench: pick data, train the graph on the canvas, watch the curves, evaluate, export.

    from gui.workbench import install
    workbench = install(main_window)

`install` adds the workbench's docks, the Train menu and toolbar and the File >
Export actions to an existing `MainWindow`. Modules: `workbench` (the wiring),
`worker` (the training thread), `settings` (undoable training settings),
`data_panel`/`data_sources`, `data_shapes` (shapeless Input/Target
nodes follow the data), `training_panel`, `run_control`, `series`/`plots`/
`plot_budget` (live curves that stay cheap), `runs`, `evaluation`/
`evaluation_panel`, `export_actions`, `interop` (ONNX import, cluster script),
`views` (small shared widgets), `tasks` and `engine_loader` (background jobs;
torch loads only when needed), `gc_policy` (garbage collection in the GUI
thread only) and `protocol` (what the workbench uses of its window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gui.workbench.protocol import WorkbenchWindow


def install(window: WorkbenchWindow):
    """Attach the training workbench to `window` (a gui.main_window.MainWindow, or any window with the
    members of `gui.workbench.protocol.WorkbenchWindow`), once; returns it."""
    if getattr(window, "workbench", None) is None:
        from gui.workbench.workbench import Workbench

        window.workbench = Workbench(window)
    return window.workbench
