"""The project's `training` settings, checked once before any work starts.

`TrainingConfig.from_dict(project.training)` returns typed settings or raises a
`UserError` naming the setting (an unknown key such as `epoch` is an error, not
silently ignored). The optimizer and schedule objects keep their torch-named
params; `engine.training.optim` checks those.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import UserError

AMP_MODES = ("bf16", "fp16")
KNOWN = ("dataset", "val_split", "batch_size", "epochs", "seed", "device", "optimizer", "schedule", "grad_clip",
         "patience", "amp", "compile", "init_from", "freeze_batchnorm", "folds",
         "mixup", "cutmix")
MAX_FOLDS = 100
KNOWN += ("tensorboard",)  # engine.history.tensorboard
MAX_EPOCHS = 100_000
MAX_BATCH = 1 << 20


def _fail(name: str, expected: str, value) -> UserError:
    return UserError(f"training setting '{name}' must be {expected}, got {value!r}")


def _int(training: dict, name: str, default, minimum: int, maximum: int, optional: bool = False) -> int | None:
    value = training.get(name, default)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise _fail(name, f"a whole number from {minimum} to {maximum}", value)
    return value


def _number(training: dict, name: str, default, low: float, high: float, optional: bool = False) -> float | None:
    value = training.get(name, default)
    if value is None and optional:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low < value < high:
        raise _fail(name, f"a number between {low} and {high}", value)
    return float(value)


def _val_split(training: dict) -> float:
    """0 trains on every sample with no validation; else the share held out, below 1."""
    value = training.get("val_split", 0.2)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise _fail("val_split", "a number from 0 (no validation: train on all the data) up to but not "
                                 "including 1", value)
    return float(value)


def _bool(training: dict, name: str, default: bool) -> bool:
    value = training.get(name, default)
    if not isinstance(value, bool):
        raise _fail(name, "true or false", value)
    return value


def _object(training: dict, name: str, default) -> dict | None:
    value = training.get(name, default)
    if value is None:
        return None
    if isinstance(value, str):  # "Adam" is short for {"type": "Adam"}
        value = {"type": value}
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise _fail(name, 'an object with a "type"', value)
    return dict(value)


@dataclass(frozen=True)
class TrainingConfig:
    """Typed training settings; see docs/training.md, "Training settings" for each one."""

    dataset: dict
    val_split: float = 0.2
    batch_size: int = 64
    epochs: int = 10
    seed: int = 0
    device: str = "auto"
    optimizer: dict = field(default_factory=lambda: {"type": "Adam", "lr": 0.001})
    schedule: dict | None = None
    grad_clip: float | None = None  # max gradient norm
    patience: int | None = None  # early stopping: epochs without a better validation loss
    amp: str | None = None  # "bf16" | "fp16" mixed precision (CUDA only)
    compile: bool = False  # torch.compile (CUDA only)
    init_from: str | None = None  # weights to start from (engine.training.init_from), relative to the project
    freeze_batchnorm: bool = True  # frozen nodes' BatchNorm stays in evaluation mode (engine.training.fine_tune)
    folds: int | None = None  # K-fold cross-validation (engine.training.folds)
    tensorboard: bool = True  # also write TensorBoard event files (where tensorboard is installed)
    mixup: float | None = None  # Beta(alpha, alpha) mixing of sample pairs (engine.data.augment)
    cutmix: float | None = None  # the same, pasting a patch of the other image

    @classmethod
    def from_dict(cls, training: dict, **overrides) -> TrainingConfig:
        """Check `training` (with non-None `overrides` such as epochs=3 applied) and type it."""
        if not isinstance(training, dict):
            raise UserError(f"training settings must be an object, got {training!r}")
        training = {**training, **{k: v for k, v in overrides.items() if v is not None}}
        unknown = sorted(set(training) - set(KNOWN))
        if unknown:
            raise UserError(f"unknown training setting {', '.join(repr(u) for u in unknown)}; "
                            f"known settings: {', '.join(KNOWN)}")
        dataset = training.get("dataset")
        if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
            raise _fail("dataset", 'an object with a "name", e.g. {"name": "digits"}', dataset)
        device = training.get("device", "auto")
        if not isinstance(device, str) or not device:
            raise _fail("device", '"auto", "cpu", "cuda", "cuda:N" or "mps"', device)
        amp = training.get("amp")
        if amp is False:
            amp = None
        if amp is not None and amp not in AMP_MODES:
            raise _fail("amp", '"bf16", "fp16" or null', amp)
        compile_model = training.get("compile", False)
        if not isinstance(compile_model, bool):
            raise _fail("compile", "true or false", compile_model)
        schedule = _object(training, "schedule", None)
        if schedule is not None and schedule["type"].lower() == "none":
            schedule = None
        init_from = training.get("init_from")
        if init_from is not None and (not isinstance(init_from, str) or not init_from.strip()):
            raise _fail("init_from", "the path of a .safetensors weights file, or null", init_from)
        freeze_batchnorm = training.get("freeze_batchnorm", True)
        if not isinstance(freeze_batchnorm, bool):
            raise _fail("freeze_batchnorm", "true or false", freeze_batchnorm)
        return cls(
            dataset=dict(dataset),
            val_split=_val_split(training),
            batch_size=_int(training, "batch_size", 64, 1, MAX_BATCH),
            epochs=_int(training, "epochs", 10, 1, MAX_EPOCHS),
            seed=_int(training, "seed", 0, 0, 2**63 - 1),
            device=device,
            optimizer=_object(training, "optimizer", None) or {"type": "Adam", "lr": 0.001},
            schedule=schedule,
            grad_clip=_number(training, "grad_clip", None, 0.0, float("inf"), optional=True),
            patience=_int(training, "patience", None, 1, MAX_EPOCHS, optional=True),
            amp=amp,
            compile=compile_model,
            init_from=init_from,
            freeze_batchnorm=freeze_batchnorm,
            folds=_int(training, "folds", None, 2, MAX_FOLDS, optional=True),
            tensorboard=_bool(training, "tensorboard", True),
            mixup=_number(training, "mixup", None, 0.0, float("inf"), optional=True),
            cutmix=_number(training, "cutmix", None, 0.0, float("inf"), optional=True),
        )
