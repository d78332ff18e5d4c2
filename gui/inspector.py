"""The inspector: the selected node's type, id and params (both editable), doc, shapes, params and MACs.

Editors come from `gui.param_widgets`. The id is renamed through
`DocumentController.rename_node` (one undo step; a taken or unusable id is
refused in red under the field, like a param). A committed edit goes to
`DocumentController.set_param`, which pushes one SetParams command; when the
document refuses the value, the reason is shown in red under the field (and in
the status bar) and the document stays as it was. A node that may share another
node's weights gets a "shares" combo of the nodes it can share with (same type
and params), also one SetParams step. The inspector follows the document: undo,
redo and inference results refresh it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from graphs.errors import GraphError
from graphs.node_type import SHARES
from gui import formatting
from gui.document import DocumentController
from gui.explain_panel import ExplainPanel
from gui.fix_menu import add_fix_actions, fixes_for_node, lightbulb_icon, quick_enough
from gui.param_widgets import ParamEditor, make_editor
from gui.training_options import NodeTrainingEditor
from gui.units import links, optional
from gui.units.params_panel import UnitParamsPanel
from gui.widgets import scroll_page
from gui.workbench.search_dialog import add_search_menu


def _label(text: str = "", object_name: str | None = None, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if object_name:
        label.setObjectName(object_name)
    return label


class ParamRow(QWidget):
    """An editor (a param's, or the id's line edit) with its error line underneath."""

    def __init__(self, editor: ParamEditor | QLineEdit, parent=None):
        super().__init__(parent)
        self.editor = editor
        self.link_button = self.link_label = None  # in a unit's definition (gui.units.links)
        self.error = _label(object_name="paramError")
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor)
        layout.addWidget(self.error)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def apply(self, edit) -> bool:
        """Run `edit`, a change to the document; show why if the document refuses it (a GraphError),
        else clear the line. Returns whether the document changed."""
        try:
            changed = edit()
        except GraphError as error:
            self.show_error(error.message)
            return False
        self.show_error("")
        return changed


class IdEdit(QLineEdit):
    """The id field: Esc gives up the edit (`cancelled`), as it does in a table cell."""

    cancelled = Signal()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class Inspector(QWidget):
    """Shows and edits one node; `show_node(None)` shows a hint instead."""

    def __init__(self, controller: DocumentController, parent=None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self.controller = controller
        self.node_id: str | None = None
        self.rows: dict[str, ParamRow] = {}
        self.id_row: ParamRow | None = None
        self.shares_row: ParamRow | None = None
        self.training_row: NodeTrainingEditor | None = None  # trainable and lr_mult, for a node with weights
        self.optional_row: ParamRow | None = None  # in a unit's definition: the switch of an optional layer

        self.title = _label(object_name="inspectorTitle")
        self.doc = _label(object_name="inspectorDoc")
        self.params_box = QFrame()
        self.form = QFormLayout(self.params_box)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.info = _label(object_name="inspectorInfo")
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.errors = _label(object_name="inspectorErrors")
        self.errors.setStyleSheet("color: #ff6b6b;")
        self.fix_button = QToolButton(text="Fix…", objectName="inspectorFix", icon=lightbulb_icon())  # gui.fix_menu
        self.fix_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.fix_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.fix_button.setMenu(QMenu(self.fix_button))
        self.fix_button.setToolTip("Suggested fixes for this node's error; each is one undo step")
        self.hint = _label("Select a node to see and edit its parameters.", "inspectorHint")
        self.about = ExplainPanel()
        self.unit_params = UnitParamsPanel(controller)  # a unit open, nothing selected: its params
        self.rule = QFrame()
        self.rule.setObjectName("inspectorRule")
        self.rule.setFrameShape(QFrame.Shape.HLine)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        for widget in (self.hint, self.unit_params, self.title, self.doc, self.params_box, self.rule, self.info,
                       self.errors):
            layout.addWidget(widget)
        layout.addWidget(self.fix_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.about)
        layout.addStretch(1)
        scroll_page(self, body).setFrameShape(QFrame.Shape.NoFrame)

        controller.paramsChanged.connect(self._on_params_changed)
        controller.nodeRemoved.connect(self._on_node_removed)
        controller.resultChanged.connect(lambda _result: self._refresh_info())
        controller.scopeChanged.connect(lambda: self.show_node(None))
        controller.unitsChanged.connect(lambda: optional.refresh(self))
        controller.projectReset.connect(lambda: self.show_node(None))
        self.show_node(None)

    # ---- which node --------------------------------------------------------
    def show_node(self, node_id: str | None, selected_count: int = 0) -> None:
        if node_id is not None and not self.controller.scope_graph.has_node(node_id):
            node_id = None
        self.node_id = node_id
        self._clear_rows()
        has_node = node_id is not None
        for widget in (self.title, self.doc, self.params_box, self.rule, self.info, self.errors):
            widget.setVisible(has_node)
        self.hint.setVisible(not has_node)
        self.unit_params.setVisible(not has_node and selected_count == 0 and bool(self.controller.scope))
        self._show_about()
        self.fix_button.setVisible(False)  # until _refresh_info finds a fix
        if not has_node:
            self.hint.setText(f"{selected_count} nodes selected." if selected_count > 1
                              else "Select a node to see and edit its parameters.")
            return
        node = self.controller.scope_graph.node(node_id)
        spec = node.spec
        self.title.setText(f"<b>{node.type}</b>")
        self.doc.setText(spec.doc)
        id_edit = IdEdit(node_id)
        id_edit.setObjectName("nodeIdEdit")
        id_edit.setToolTip("The node's id, which names its module in the compiled model (its weights are "
                           f"'{node_id}.weight', ...). Type a new one and press Enter to rename the node (Esc puts the id back).")
        id_edit.editingFinished.connect(self.rename)
        self.id_row = ParamRow(id_edit)
        id_edit.cancelled.connect(self._cancel_rename)
        self.form.addRow(QLabel("id"), self.id_row)
        resolved = node.resolved_params()
        for param in spec.params:
            editor = make_editor(param)
            editor.set_value(resolved[param.name])
            editor.committed.connect(lambda name=param.name: self.commit(name))
            row = ParamRow(editor)
            label = QLabel(param.name)
            label.setToolTip(param.doc or param.name)
            if not self.controller.scope:  # in a unit's definition, right-click links it instead (gui.units.links)
                add_search_menu(label, self.controller, lambda: self.node_id, param)  # right-click: Search over…
            self.form.addRow(label, row)
            self.rows[param.name] = row
            links.decorate(self, param, row, label)
        if node.shares or self._share_candidates(node):
            combo = QComboBox()
            combo.setObjectName("sharesCombo")
            combo.setToolTip("Use the weights of another node of this type and params (a Siamese branch, tied "
                             "embeddings): one module computes both, and its weights are stored once.")
            combo.activated.connect(lambda _index: self.choose_shares(combo.currentData()))
            self.shares_row = ParamRow(combo)
            label = QLabel(SHARES)
            label.setToolTip(combo.toolTip())
            self.form.addRow(label, self.shares_row)
            self._fill_shares()
        if self._has_weights(node):
            self.training_row = NodeTrainingEditor(self.controller, node_id)
            label = QLabel("training")
            label.setToolTip("Fine-tuning: freeze this node's weights, or scale their learning rate")
            self.form.addRow(label, self.training_row)
        optional.decorate(self)  # in a unit's definition: "optional: switched by …"
        self._refresh_info()

    def _has_weights(self, node) -> bool:
        """Whether the node holds weights of its own to freeze (or is frozen already)."""
        info = self.controller.scope_result.info.get(node.id)
        owns = not node.shares and not node.spec.is_data and not node.spec.is_loss
        return owns and (info is None or info.params > 0) or not node.trainable or node.lr_mult != 1.0

    def _clear_rows(self) -> None:
        # deleteLater, not removeRow: a rename clears the rows from inside the id field's own signal
        while self.form.rowCount():
            taken = self.form.takeRow(0)
            for item in (taken.labelItem, taken.fieldItem):
                if item is not None and item.widget() is not None:
                    item.widget().hide()
                    item.widget().deleteLater()
        self.rows.clear()
        self.id_row = None
        self.shares_row = None
        self.training_row = None
        self.optional_row = None

    def editor(self, name: str) -> ParamEditor:
        return self.rows[name].editor

    # ---- editing -----------------------------------------------------------
    def commit(self, name: str) -> bool:
        """Send param `name`'s editor value to the document; show the reason if it is refused."""
        if self.node_id is None or name not in self.rows:
            return False
        row = self.rows[name]
        try:
            value = row.editor.value()
        except ValueError as error:
            message = f"param '{name}' {error}"
            row.show_error(message)
            self.controller.message.emit(message)
            return False
        return row.apply(lambda: self.controller.set_param(self.node_id, name, value))

    def choose_shares(self, owner: str | None) -> bool:
        """Make the node use `owner`'s weights (None: its own), as one undoable step."""
        if self.node_id is None or self.shares_row is None:
            return False
        node = self.controller.scope_graph.node(self.node_id)
        params = {k: v for k, v in node.params.items() if k != SHARES}
        if owner:
            params[SHARES] = owner
        return self.shares_row.apply(lambda: self.controller.set_params(self.node_id, params))

    def _share_candidates(self, node) -> list[str]:
        """Nodes whose weights `node` could share: same type and params, owning their weights, holding some."""
        own = {k: v for k, v in node.params.items() if k != SHARES}
        info = self.controller.scope_result.info
        return [other.id for other in self.controller.scope_graph.nodes()
                if other.id != node.id and other.type == node.type and not other.shares and other.params == own
                and not other.spec.is_data and not other.spec.is_loss
                and (other.id not in info or info[other.id].params > 0)]

    def _fill_shares(self) -> None:
        if self.shares_row is None or not self.controller.scope_graph.has_node(self.node_id):
            return
        node = self.controller.scope_graph.node(self.node_id)
        combo = self.shares_row.editor
        choices = self._share_candidates(node)
        if node.shares and node.shares not in choices:
            choices.append(node.shares)  # shown even when it no longer fits, with the error below
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("none (its own weights)", None)
        for choice in choices:
            combo.addItem(choice, choice)
        combo.setCurrentIndex(combo.findData(node.shares) if node.shares else 0)
        combo.blockSignals(False)

    def rename(self) -> bool:
        """Give the node the id typed in the id field; show the reason if it is refused."""
        if self.node_id is None or self.id_row is None:
            return False
        row = self.id_row
        return row.apply(lambda: self.controller.rename_node(self.node_id, row.editor.text()))

    def _cancel_rename(self) -> None:
        if self.id_row is not None:
            self.id_row.editor.setText(self.node_id or "")
            self.id_row.show_error("")

    def _on_params_changed(self, node_id: str) -> None:
        if node_id != self.node_id:
            return
        resolved = self.controller.scope_graph.node(node_id).resolved_params()
        for name, row in self.rows.items():
            row.editor.set_value(resolved[name])
            row.show_error("")
            links.show(self, name, row)
        self._fill_shares()
        self._show_about()

    def _show_about(self) -> None:
        """The "About <type>" section follows the node's type and params (edits and undo alike)."""
        node = self.controller.scope_graph.node(self.node_id) if self.node_id is not None else None
        self.about.show_type(node.type if node else None, node.resolved_params() if node else None)

    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.show_node(None)

    def _refresh_info(self) -> None:
        if self.node_id is None or not self.controller.scope_graph.has_node(self.node_id):
            return
        result = self.controller.scope_result
        node = self.controller.scope_graph.node(self.node_id)
        inputs = result.inputs.get(self.node_id, {})
        info = result.info.get(self.node_id)
        muted = "style='color:#9aa1ab; padding-right:12px'"
        rows = []
        for heading, ports, specs in (("inputs", node.input_ports(), inputs),
                                      ("outputs", node.output_ports(), info.outputs if info else {})):
            for i, port in enumerate(ports):
                spec = specs.get(port)
                rows.append(f"<tr><td {muted}>{heading if i == 0 else ''}</td><td {muted}>{port}</td>"
                            f"<td><tt>{formatting.shape(spec.shape) if spec else '–'}</tt></td></tr>")
        params = formatting.grouped(info.params) if info else "–"
        macs = formatting.grouped(info.macs) if info else "–"
        rows.append(f"<tr><td {muted}>parameters</td><td colspan=2>{params}</td></tr>")
        rows.append(f"<tr><td {muted}>MACs</td><td colspan=2>{macs}</td></tr>")
        lines = ["<table cellspacing=0 cellpadding=2>", *rows, "</table>"]
        self.info.setText("".join(lines))
        self._fill_shares()  # another node's edit may make it a candidate, or no longer one
        messages = [e.message for e in result.errors_for(self.node_id)]
        self.errors.setText("\n".join(f"⚠ {m}" for m in messages))
        self.errors.setVisible(bool(messages))
        self.fix_button.menu().clear()
        fixes = fixes_for_node(self.controller, self.node_id) if messages and quick_enough(self.controller) else []
        add_fix_actions(self.fix_button.menu(), self.controller, self.node_id, fixes)
        self.fix_button.setVisible(bool(fixes))
