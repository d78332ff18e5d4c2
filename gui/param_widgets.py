"""Editors for one node parameter, chosen from its `ParamSpec` (kind, range, choices, optional).

Every editor has `value()` (the raw value to hand to the document; raises
`ValueError` with a sentence when the text cannot be read), `set_value(v)`
(shows a value without emitting anything) and a `committed` signal, emitted
once when the user finishes an edit (Enter, focus out, a click on an arrow,
a toggled box, a picked choice). Checking the value is the document's job:
the spin boxes accept any number typed (their arrows stay inside the spec's
`allowed` range), so a value out of range reaches the document, which refuses
it with a sentence the inspector shows under the field, instead of the spin
box silently putting the old value back.

| kind                     | editor                                                      |
|--------------------------|-------------------------------------------------------------|
| int                      | QSpinBox; arrows keep to the spec's range (+ a "None" box)  |
| float                    | QDoubleSpinBox, the same, shown with %g (+ a "None" box)   |
| bool                     | QCheckBox                                                   |
| choice                   | QComboBox                                                   |
| int_tuple / optional_... | QLineEdit: "3" or "3, 5" (empty = None when optional)       |
| int_list                 | QLineEdit: "1, 8, 8"; "[]" is empty; empty = None if optional|
| str                      | QLineEdit (a Repeat's unit name, a custom layer's argument) |
| overrides                | QLineEdit holding JSON: {"0": {"stride": 2}} (a Repeat)     |
"""

from __future__ import annotations

import json

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from graphs.params import ParamSpec
from gui.formatting import parse_ints

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
FLOAT_LIMIT = 1e12


class ParamEditor(QWidget):
    """Base: a row widget for one param."""

    committed = Signal()

    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(parent)
        self.spec = spec
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.setToolTip(spec.doc)

    def value(self):
        raise NotImplementedError

    def set_value(self, value) -> None:
        raise NotImplementedError

    def _commit(self, *_args) -> None:
        self.committed.emit()


class _Allowed:
    """Mixin for a spin box that takes any number typed but whose arrows stay in `allowed` (low, high)."""

    _allowed: tuple | None = None

    @property
    def allowed(self) -> tuple:
        """The range the arrows keep to: the one given to `set_allowed`, else the spin box's own."""
        return self._allowed if self._allowed is not None else (self.minimum(), self.maximum())

    def set_allowed(self, low, high, widest) -> None:
        self._allowed = (low, high)
        self.setRange(*widest)

    def stepBy(self, steps: int) -> None:
        low, high = self.allowed
        self.setValue(min(high, max(low, self.value() + steps * self.singleStep())))

    def stepEnabled(self):
        low, high = self.allowed
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self.value() > low:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self.value() < high:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags


class IntSpinBox(_Allowed, QSpinBox):
    """A QSpinBox that takes any 32-bit integer typed; its arrows keep to `allowed`."""


class FloatSpinBox(_Allowed, QDoubleSpinBox):
    """A QDoubleSpinBox that shows 1e-05 as 1e-05 and accepts anything float() reads; its arrows keep
    to `allowed`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:
        return f"{value:.8g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            value = float(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos


def _spin_commit_on_finish(spin: QAbstractSpinBox, editor: ParamEditor) -> None:
    """Commit on Enter / focus-out / arrow steps, not on every keystroke."""
    spin.setKeyboardTracking(False)
    spin.valueChanged.connect(editor._commit)
    spin.editingFinished.connect(editor._commit)


class _NoneBox:
    """Mixin for a spin-box editor (`self.spin`, its numbers of type `kind`): a "None" box beside it when
    the param is optional."""

    kind = int

    def _add_none_box(self) -> None:
        self.none_box = None
        if self.spec.optional:
            self.none_box = QCheckBox("None", self)
            self.none_box.toggled.connect(self._none_toggled)
            self._layout.addWidget(self.none_box)

    def _none_toggled(self, checked: bool) -> None:
        self.spin.setEnabled(not checked)
        self._commit()

    def value(self):
        if self.none_box is not None and self.none_box.isChecked():
            return None
        return self.kind(self.spin.value())

    def set_value(self, value) -> None:
        for widget in (self.spin, self.none_box):
            if widget is not None:
                widget.blockSignals(True)
        if self.none_box is not None:
            self.none_box.setChecked(value is None)
            self.spin.setEnabled(value is not None)
        if value is not None:
            self.spin.setValue(self.kind(value))
        for widget in (self.spin, self.none_box):
            if widget is not None:
                widget.blockSignals(False)


class IntEditor(_NoneBox, ParamEditor):
    kind = int

    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(spec, parent)
        self.spin = IntSpinBox(self)
        low = int(spec.minimum) if spec.minimum is not None else INT_MIN
        high = int(spec.maximum) if spec.maximum is not None else INT_MAX
        self.spin.set_allowed(max(INT_MIN, low), min(INT_MAX, high), (INT_MIN, INT_MAX))
        self.spin.setAccelerated(True)
        self._layout.addWidget(self.spin, 1)
        self._add_none_box()
        _spin_commit_on_finish(self.spin, self)


class FloatEditor(_NoneBox, ParamEditor):
    kind = float

    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(spec, parent)
        self.spin = FloatSpinBox(self)
        low = float(spec.minimum) if spec.minimum is not None else -FLOAT_LIMIT
        high = float(spec.maximum) if spec.maximum is not None else FLOAT_LIMIT
        self.spin.set_allowed(low, high, (-FLOAT_LIMIT, FLOAT_LIMIT))
        self.spin.setSingleStep(0.05 if high <= 1.0 else 0.1)
        self._layout.addWidget(self.spin, 1)
        self._add_none_box()
        _spin_commit_on_finish(self.spin, self)



class BoolEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(spec, parent)
        self.check = QCheckBox(self)
        self._layout.addWidget(self.check, 1)
        self.check.toggled.connect(self._commit)

    def value(self):
        return self.check.isChecked()

    def set_value(self, value) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(bool(value))
        self.check.blockSignals(False)


class ChoiceEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(spec, parent)
        self.combo = QComboBox(self)
        for choice in spec.choices:
            self.combo.addItem(str(choice), choice)
        self._layout.addWidget(self.combo, 1)
        self.combo.activated.connect(self._commit)

    def value(self):
        return self.combo.currentData()

    def set_value(self, value) -> None:
        self.combo.blockSignals(True)
        index = self.combo.findData(value)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)


class TextEditor(ParamEditor):
    """A line edit for tuples and lists of ints."""

    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(spec, parent)
        self.edit = QLineEdit(self)
        self._layout.addWidget(self.edit, 1)
        self.edit.editingFinished.connect(self._commit)
        if spec.kind == "int_list":
            self.edit.setPlaceholderText("None (take it from the data)" if spec.optional else "e.g. 1, 8, 8")
        else:
            self.edit.setPlaceholderText("None (auto)" if spec.optional else
                                         f"one number, or {spec.length} separated by commas")

    def value(self):
        text = self.edit.text().strip()
        if not text and self.spec.optional:
            return None
        if self.spec.kind == "int_list":
            return parse_ints(text)
        numbers = parse_ints(text)
        if not numbers:
            raise ValueError("enter a number" + (" (or leave it empty for None)" if self.spec.optional else ""))
        return numbers[0] if len(numbers) == 1 else numbers

    def set_value(self, value) -> None:
        if value is None:
            text = ""
        elif isinstance(value, (list, tuple)):
            text = ", ".join(str(v) for v in value)
            if self.spec.kind == "int_list":
                text = f"[{text}]" if not value else text
        else:
            text = str(value)
        self.edit.blockSignals(True)
        self.edit.setText(text)
        self.edit.blockSignals(False)


class StrEditor(ParamEditor):
    """A line of text (a Repeat's unit name, a custom layer's `str` param)."""

    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(spec, parent)
        self.edit = QLineEdit(self)
        self._layout.addWidget(self.edit, 1)
        self.edit.editingFinished.connect(self._commit)

    def value(self):
        return self.edit.text().strip()

    def set_value(self, value) -> None:
        self.edit.blockSignals(True)
        self.edit.setText("" if value is None else str(value))
        self.edit.blockSignals(False)


class OverridesEditor(StrEditor):
    """A Repeat's per-copy changes as JSON: {"0": {"stride": 2}}; empty means none."""

    def __init__(self, spec: ParamSpec, parent=None):
        super().__init__(spec, parent)
        self.edit.setPlaceholderText('none; e.g. {"0": {"stride": 2}}')

    def value(self):
        text = self.edit.text().strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError as error:
            raise ValueError(f"write JSON such as {{\"0\": {{\"stride\": 2}}}} ({error.msg})") from None

    def set_value(self, value) -> None:
        super().set_value(json.dumps(value, separators=(", ", ": ")) if value else "")


EDITORS = {"int": IntEditor, "float": FloatEditor, "bool": BoolEditor, "choice": ChoiceEditor,
           "int_tuple": TextEditor, "optional_int_tuple": TextEditor, "int_list": TextEditor,
           "str": StrEditor, "overrides": OverridesEditor}


def make_editor(spec: ParamSpec, parent=None) -> ParamEditor:
    """The editor for `spec`, by its kind."""
    return EDITORS[spec.kind](spec, parent)
