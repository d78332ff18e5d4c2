"""File > Import ONNX… and File > Export > Cluster launch script…: the editor's doors to other tools.

Importing runs the engine's ONNX importer (which checks the imported graph against
onnxruntime before writing anything) in the background, writes the project and its
weights (`PROJECT.safetensors` beside it) where the user chose, and opens it. The
launch script is a torchrun command line plus a copy of the project, to carry to a
cluster; the project must be saved first.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from gui import files
from gui.workbench.protocol import WorkbenchWindow
from gui.workbench.tasks import TaskRunner


class InteropActions(QObject):
    """Adds the import and launch-script actions to the window's File menu."""

    def __init__(self, window: WorkbenchWindow, tasks: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.window, self.tasks = window, tasks
        file_menu = window.menus["file"]
        self.import_onnx_action = QAction("Import &ONNX…", window)
        self.import_onnx_action.setStatusTip("Turn an ONNX model into an editable graph with its weights")
        self.import_onnx_action.triggered.connect(lambda: self.import_onnx())
        file_menu.insertAction(window.menus["examples"].menuAction(), self.import_onnx_action)
        self.launch_action = QAction("Cluster &Launch Script (torchrun)…", window)
        self.launch_action.setStatusTip("Write launch.sh and a copy of the project, to train on a cluster")
        self.launch_action.triggered.connect(lambda: self.write_launch_script())
        window.menus["export"].addSeparator()
        window.menus["export"].addAction(self.launch_action)

    # ---- ONNX import -------------------------------------------------------
    def import_onnx(self, model_path: str | None = None, project_path: str | None = None) -> bool:
        """Ask for the model and where to write the project, then import in the background."""
        if not self.window.maybe_save():
            return False
        if model_path is None:
            start = files.start_folder(self.window.document.project.path)
            model_path, _ = QFileDialog.getOpenFileName(self.window, "Import ONNX model", str(start),
                                                        "ONNX models (*.onnx);;All files (*)")
        if not model_path:
            return False
        files.remember_folder(model_path)
        if project_path is None:
            suggested = str(Path(model_path).with_suffix(".json"))
            project_path, _ = QFileDialog.getSaveFileName(self.window, "Save the imported project as", suggested,
                                                          "Neurocanvas projects (*.json)")
        if not project_path:
            return False
        self.window.show_message(f"Importing {Path(model_path).name}…", 0)

        def work():
            from engine.importers.onnx_import import import_onnx_file

            return import_onnx_file(model_path, project_path)

        self.tasks.submit(work, self._imported, self._import_failed, writes=True)
        return True

    def _imported(self, written) -> None:
        if not self.window.open_project(str(written.project_path)):
            return
        checked = written.verification
        note = f"; matches onnxruntime within {checked.difference:.1e}" if checked is not None else ""
        self.window.show_message(f"Imported {len(written.result.project.graph)} nodes, weights in "
                                 f"{written.weights_path.name}{note}")

    def _import_failed(self, error: BaseException) -> None:
        self.window.show_message("Import failed")
        QMessageBox.critical(self.window, "Cannot import the model", str(error))

    # ---- launch script -----------------------------------------------------
    def write_launch_script(self, nproc_per_node: int | None = None, out_dir: str | None = None) -> Path | None:
        window = self.window
        project = window.document.project
        if project.path is None or not window.document.undo_stack.isClean():
            QMessageBox.information(window, "Save the project first",
                                    "The launch script carries a copy of the saved project file.")
            if not window.save():
                return None
        if nproc_per_node is None:
            nproc_per_node, ok = QInputDialog.getInt(window, "Cluster launch script",
                                                     "Processes (GPUs) per node:", 1, 1, 1024)
            if not ok:
                return None
        if out_dir is None:
            out_dir = QFileDialog.getExistingDirectory(window, "Folder for launch.sh and the project copy",
                                                       str(files.start_folder(project.path)))
        if not out_dir:
            return None
        files.remember_folder(out_dir)
        from engine.errors import UserError
        from engine.launch_script import write_launch_script

        try:
            script = write_launch_script(project.path, out_dir, nproc_per_node)
        except UserError as error:
            QMessageBox.critical(window, "Cannot write the launch script", str(error))
            return None
        window.show_message(f"Wrote {script} — run it on the cluster's first node (see its comments)")
        return script
