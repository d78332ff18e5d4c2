"""The Training panel: optimiser, learning-rate schedule, epochs, batch size, early stopping, gradient
clipping and the device, saved in `project.training` as undoable edits.

The device list comes from the engine (`list_devices()`: the CPU and each CUDA
or MPS device with its name and memory), so the panel fills in once the engine
has loaded. Mixed precision and torch.compile are CUDA features: their rows
appear only when the chosen device is a CUDA device (or "auto" on a machine
that has one). Settings the panel doesn't show (e.g. Adam's betas) are kept.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.explain_panel import explain_choices
from gui.param_widgets import FloatSpinBox
from gui.workbench.engine_loader import EngineLoader, EnginePanel
from gui.workbench.fine_tune_rows import FineTuneRows
from gui.workbench.settings import TrainingSettings
from gui.workbench.views import compact_combo

MOMENTUM_OPTIMIZERS = ("SGD", "RMSprop")
SCHEDULE_TITLES = {None: "none (constant)", "step": "step decay", "cosine": "cosine annealing",
                   "one-cycle": "one-cycle"}
AMP_CHOICES = ((None, "off (float32)"), ("bf16", "bf16"), ("fp16", "fp16 with loss scaling"))


def device_label(device: dict) -> str:
    memory = device.get("memory")
    size = f", {memory / 1024**3:.1f} GB" if memory else ""
    return f"{device['id']} — {device['name']}{size}"


def _float(low: float, high: float, step: float, special: str = "") -> FloatSpinBox:
    spin = FloatSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setKeyboardTracking(False)
    if special:
        spin.setSpecialValueText(special)  # shown at the minimum, which means "not set"
    return spin


def _int(low: int, high: int, special: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    if special:
        spin.setSpecialValueText(special)
    return spin


def tensorboard_checkbox() -> QCheckBox:
    """The "tensorboard" setting (on by default); disabled, saying why, where tensorboard isn't installed."""
    import importlib.util

    check = QCheckBox("Write TensorBoard event files")
    check.setToolTip("Also write losses, the metric, the learning rate and the graph for TensorBoard into the "
                     "run folder's tensorboard/ (tensorboard --logdir runs)")
    if importlib.util.find_spec("tensorboard") is None:
        check.setToolTip("The tensorboard package is not installed: pip install tensorboard")
    return check


def _pair(check: QCheckBox, value: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(check)
    layout.addWidget(value, 1)
    return row


class TrainingPanel(EnginePanel):
    """Edits the training section of the open project (besides the data, which the Data panel edits)."""

    def __init__(self, settings: TrainingSettings, engine: EngineLoader, parent: QWidget | None = None):
        super().__init__(engine, parent)
        self.settings = settings
        self._build()
        settings.changed.connect(self._settings_changed)

    def _build(self) -> None:
        self.optimizer = compact_combo()
        self.lr = _float(1e-7, 10.0, 0.0005)
        self.weight_decay = _float(0.0, 1.0, 0.001)
        self.momentum = _float(0.0, 0.999, 0.05)
        self.schedule = compact_combo()
        self.step_size = _int(0, 100_000, "auto (epochs / 3)")
        self.gamma = _float(0.0, 1.0, 0.05, "auto (0.1)")
        self.eta_min = _float(0.0, 10.0, 0.0001)
        self.max_lr = _float(0.0, 10.0, 0.001, "auto (the learning rate)")
        self.epochs = _int(1, 100_000)
        self.batch_size = _int(1, 1 << 20)
        self.early = QCheckBox("Stop after")
        self.patience = _int(1, 100_000)
        self.patience.setSuffix(" epochs")
        self.patience.setToolTip("Stop when the validation loss has not improved for this many epochs; the best "
                                 "epoch's weights are kept")
        self.clip = QCheckBox("Clip to")
        self.clip_norm = _float(1e-6, 1e6, 0.5)
        self.device = compact_combo()
        self.amp = compact_combo()
        for value, title in AMP_CHOICES:
            self.amp.addItem(title, value)
        self.compile = QCheckBox("torch.compile the model")
        self.mixup = _float(0.0, 10.0, 0.1, "off")
        self.cutmix = _float(0.0, 10.0, 0.1, "off")
        for spin, what in ((self.mixup, "blends each image with another"), (self.cutmix, "pastes a patch of another "
                                                                            "image into each image")):
            spin.setToolTip(f"Alpha of the Beta(alpha, alpha) mixing share: {what}, and mixes their labels in the "
                            "loss. Classification with a CrossEntropyLoss (or NLLLoss) only; off at 0")
        self.cuda_note = QLabel("Mixed precision and torch.compile appear for CUDA devices.")
        self.cuda_note.setObjectName("mutedLabel")
        self.cuda_note.setWordWrap(True)

        form = self.form = QFormLayout()
        form.addRow("Optimiser", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Momentum", self.momentum)
        form.addRow("LR schedule", self.schedule)
        form.addRow("Step every (epochs)", self.step_size)
        form.addRow("Decay factor", self.gamma)
        form.addRow("Minimum LR", self.eta_min)
        form.addRow("Peak LR", self.max_lr)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Early stopping", _pair(self.early, self.patience))
        form.addRow("Gradient norm", _pair(self.clip, self.clip_norm))
        form.addRow("Mixup α", self.mixup)
        form.addRow("CutMix α", self.cutmix)
        form.addRow("Device", self.device)
        form.addRow("Mixed precision", self.amp)
        form.addRow("", self.compile)
        form.addRow("", self.cuda_note)
        self.fine_tune = FineTuneRows(lambda: self.settings.base_dir,
                                      lambda: self.settings.document.project.path is not None, self)
        form.addRow("Initial weights", self.fine_tune.init_row)
        form.addRow("", self.fine_tune.freeze_batchnorm)
        form.addRow("Cross-validation", self.fine_tune.folds)
        self.tensorboard = tensorboard_checkbox()
        form.addRow("Run files", self.tensorboard)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.state)
        layout.addLayout(form)
        layout.addStretch(1)
        self._set_body(body)
        self._editors = (self.optimizer, self.lr, self.weight_decay, self.momentum, self.schedule, self.step_size,
                         self.gamma, self.eta_min, self.max_lr, self.epochs, self.batch_size, self.early,
                         self.patience, self.clip, self.clip_norm, self.device, self.amp, self.compile,
                         *self.fine_tune.editors, self.mixup, self.cutmix)
        self._editors += (self.tensorboard,)
        self._set_inputs_enabled(False)

        commits = {
            self.lr: ("Set learning rate", "lr"), self.weight_decay: ("Set weight decay", "weight_decay"),
            self.momentum: ("Set momentum", "momentum"), self.step_size: ("Set schedule step", "step_size"),
            self.gamma: ("Set decay factor", "gamma"), self.eta_min: ("Set minimum LR", "eta_min"),
            self.max_lr: ("Set peak LR", "max_lr"), self.epochs: ("Set epochs", "epochs"),
            self.batch_size: ("Set batch size", "batch_size"), self.patience: ("Set patience", "patience"),
            self.clip_norm: ("Set gradient clipping", "grad_clip"),
            self.mixup: ("Set mixup", "mixup"), self.cutmix: ("Set CutMix", "cutmix"),
        }
        for spin, (text, field) in commits.items():
            spin.valueChanged.connect(lambda _v, t=text, f=field: self._commit(t, f))
        self.optimizer.activated.connect(lambda _i: self._commit("Set optimiser"))
        self.schedule.activated.connect(lambda _i: self._commit("Set LR schedule"))
        self.device.activated.connect(lambda _i: self._commit("Set device"))
        self.amp.activated.connect(lambda _i: self._commit("Set mixed precision"))
        self.early.toggled.connect(lambda _on: self._commit("Set early stopping"))
        self.clip.toggled.connect(lambda _on: self._commit("Set gradient clipping"))
        self.compile.toggled.connect(lambda _on: self._commit("Set compile"))
        self.fine_tune.edited.connect(lambda text, field: self._commit(text, field or None))
        self.tensorboard.toggled.connect(lambda _on: self._commit("Set TensorBoard files"))

    # ---- engine ------------------------------------------------------------------
    def _fill_choices(self, info: dict) -> None:
        self.optimizer.addItems(info["optimizers"])
        for kind in (None, *info["schedules"]):
            self.schedule.addItem(SCHEDULE_TITLES.get(kind, kind), kind)
        explain_choices(self.optimizer, self.schedule)
        self.device.addItem("auto — the best available (CUDA, then MPS, then the CPU)", "auto")
        for device in info["devices"]:
            self.device.addItem(device_label(device), device["id"])

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for widget in self._editors:
            widget.setEnabled(enabled)

    @property
    def has_cuda(self) -> bool:
        return bool(self.engine.info) and any(d["id"].startswith("cuda") for d in self.engine.info["devices"])

    # ---- settings -> widgets ------------------------------------------------------
    def _settings_changed(self) -> None:
        if not self._ready:
            return
        t = self.settings.training
        optimizer = t.get("optimizer") or {"type": "Adam", "lr": 0.001}
        optimizer = {"type": optimizer} if isinstance(optimizer, str) else optimizer
        schedule = t.get("schedule")
        schedule = {"type": schedule} if isinstance(schedule, str) else (schedule or {})
        for widget in self._editors:
            widget.blockSignals(True)
        try:
            self._select(self.optimizer, optimizer.get("type", "Adam"), by_text=True)
            self.lr.setValue(float(optimizer.get("lr", 0.001)))
            self.weight_decay.setValue(float(optimizer.get("weight_decay", 0.0)))
            self.momentum.setValue(float(optimizer.get("momentum", 0.0)))
            kind = schedule.get("type")
            self._select(self.schedule, None if kind in (None, "none") else kind)
            self.step_size.setValue(int(schedule.get("step_size", 0)))
            self.gamma.setValue(float(schedule.get("gamma", 0.0)))
            self.eta_min.setValue(float(schedule.get("eta_min", 0.0)))
            self.max_lr.setValue(float(schedule.get("max_lr", 0.0)))
            self.epochs.setValue(int(t.get("epochs", 10)))
            self.batch_size.setValue(int(t.get("batch_size", 64)))
            self.early.setChecked(t.get("patience") is not None)
            self.patience.setValue(int(t.get("patience") or 5))
            self.clip.setChecked(t.get("grad_clip") is not None)
            self.clip_norm.setValue(float(t.get("grad_clip") or 1.0))
            self._select(self.device, t.get("device", "auto"))
            self._select(self.amp, t.get("amp") or None)
            self.compile.setChecked(bool(t.get("compile", False)))
            self.fine_tune.show(t)
            self.tensorboard.setChecked(bool(t.get("tensorboard", True)))
            self.mixup.setValue(float(t.get("mixup") or 0.0))
            self.cutmix.setValue(float(t.get("cutmix") or 0.0))
        finally:
            for widget in self._editors:
                widget.blockSignals(False)
        self._show_rows()

    def _select(self, combo: QComboBox, value, by_text: bool = False) -> None:
        index = combo.findText(str(value)) if by_text else combo.findData(value)
        if index < 0:
            if by_text:
                combo.addItem(str(value))
            else:
                combo.addItem(f"{value} (not available here)", value)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def _show_rows(self) -> None:
        kind = self.schedule.currentData()
        rows = {self.momentum: self.optimizer.currentText() in MOMENTUM_OPTIMIZERS,
                self.step_size: kind == "step", self.gamma: kind == "step", self.eta_min: kind == "cosine",
                self.max_lr: kind == "one-cycle"}
        device = self.device.currentData() or "auto"
        cuda = device.startswith("cuda") or (device == "auto" and self.has_cuda)
        rows.update({self.amp: cuda, self.compile: cuda, self.cuda_note: not cuda})
        for widget, visible in rows.items():
            self.form.setRowVisible(widget, visible)
        self.patience.setEnabled(self.early.isChecked())
        self.clip_norm.setEnabled(self.clip.isChecked())

    # ---- widgets -> settings --------------------------------------------------------
    def settings_from_widgets(self) -> dict:
        """The training settings the widgets describe (the data settings unchanged)."""
        t = self.settings.training
        old = t.get("optimizer") or {}
        old = {"type": old} if isinstance(old, str) else old
        name = self.optimizer.currentText()
        optimizer = {k: v for k, v in old.items() if k not in ("type", "lr", "weight_decay", "momentum")} \
            if old.get("type") == name else {}
        optimizer = {"type": name, "lr": self.lr.value(), **optimizer}
        if self.weight_decay.value() > 0:
            optimizer["weight_decay"] = self.weight_decay.value()
        if name in MOMENTUM_OPTIMIZERS and self.momentum.value() > 0:
            optimizer["momentum"] = self.momentum.value()
        t["optimizer"] = optimizer
        t["schedule"] = self._schedule()
        if t["schedule"] is None:
            del t["schedule"]
        t["epochs"], t["batch_size"] = self.epochs.value(), self.batch_size.value()
        t["patience"] = self.patience.value() if self.early.isChecked() else None
        t["grad_clip"] = self.clip_norm.value() if self.clip.isChecked() else None
        t["device"] = self.device.currentData() or "auto"
        cuda_row = self.form.isRowVisible(self.amp)
        t["amp"] = self.amp.currentData() if cuda_row else None
        t["compile"] = self.compile.isChecked() and cuda_row
        t["mixup"], t["cutmix"] = self.mixup.value() or None, self.cutmix.value() or None
        for key, unset in (("patience", None), ("grad_clip", None), ("amp", None), ("compile", False),
                           ("mixup", None), ("cutmix", None)):
            if t[key] == unset:
                del t[key]  # an unset option stays out of the file (its default applies)
        t.pop("tensorboard", None)
        if not self.tensorboard.isChecked():
            t["tensorboard"] = False
        return self.fine_tune.apply(t)

    def _schedule(self) -> dict | None:
        kind = self.schedule.currentData()
        if kind is None:
            return None
        params = {"step": {"step_size": self.step_size.value() or None, "gamma": self.gamma.value() or None},
                  "cosine": {"eta_min": self.eta_min.value() or None},
                  "one-cycle": {"max_lr": self.max_lr.value() or None}}.get(kind, {})
        return {"type": kind, **{k: v for k, v in params.items() if v is not None}}

    def _commit(self, text: str, field: str | None = None) -> None:
        self._show_rows()
        self.settings.update(self.settings_from_widgets(), text, field)
