"""The training advisor: what a run's curves and node health say, and the remedy, as data.

Pure functions over a run's metrics history (one dict per epoch, as in `metrics.csv`), the early batch
losses, the node health samples (`events.HealthSample`) and the dataset's class counts. Torch-free, so
the GUI may call it too. Each `Advice` has a kind, the epoch it is about, a message, the evidence it
rests on, and where the remedy is an edit, `fixes`: data the GUI applies in one undo step and the CLI
prints, e.g. {"op": "insert_after", "node": "fc1", "type": "Dropout", "params": {"p": 0.3}} or
{"op": "set_training", "key": ["optimizer", "weight_decay"], "value": 0.0001}.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from graphs.errors import printable

KINDS = ("divergence", "overfitting", "underfitting", "lr_too_high", "lr_too_low", "dead_relu",
         "vanishing_gradients", "exploding_gradients", "class_imbalance")
RISING_EPOCHS = 3  # validation loss above its best for this many epochs while training loss falls
OVERFIT_MARGIN = 0.25  # ... by this fraction of its best (both smoothed) at the end
FLAT = 0.01  # a loss changing by less than this fraction per epoch is flat
DEAD = 0.5  # a ReLU-like node with more than this share of dead units
VANISHING = 1e-7  # gradient norms below this (absolute), or this far below the largest node's ...
VANISHING_RATIO = 1e-5
EXPLODING = 1e3  # ... or above this
IMBALANCE = 5.0  # largest class / smallest class


@dataclass(frozen=True)
class Fix:
    title: str  # "insert Dropout(0.3) after fc1"
    edit: dict

    def as_dict(self) -> dict:
        return {"title": self.title, **self.edit}


@dataclass(frozen=True)
class Advice:
    kind: str
    epoch: int | None  # the epoch it points to on the curves (None: not about one epoch)
    message: str
    evidence: dict = field(default_factory=dict)  # e.g. {"series": "val_loss", "epochs": [9, 14]}
    fixes: tuple[Fix, ...] = ()
    node: str | None = None  # the node it is about, if any

    def as_dict(self) -> dict:
        fixes = [f.as_dict() for f in self.fixes]
        return {"kind": self.kind, "epoch": self.epoch, "message": self.message, "evidence": self.evidence,
                "node": self.node, "fix": fixes[0] if fixes else None, "fixes": fixes}


def set_training(key: tuple[str, ...], value, title: str) -> Fix:
    return Fix(title, {"op": "set_training", "key": list(key), "value": value})


def _losses(history: list[dict], name: str) -> list[float]:
    return [row[name] for row in history if row.get(name) is not None]


def _finite(values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values)


# ---- the curves ------------------------------------------------------------------
def smoothed(values: list[float], window: int = 3) -> list[float]:
    """A trailing moving average: one noisy validation epoch is not a trend."""
    return [statistics.fmean(values[max(0, i + 1 - window):i + 1]) for i in range(len(values))]


def overfitting(history: list[dict], fixes: tuple[Fix, ...] = ()) -> Advice | None:
    """Validation loss (smoothed) rising for several epochs since its best while the training loss keeps falling."""
    val, train = _losses(history, "val_loss"), _losses(history, "train_loss")
    if len(val) != len(history) or len(val) < RISING_EPOCHS + 2 or not _finite(val + train):
        return None
    val_s, train_s = smoothed(val), smoothed(train)
    best = min(range(len(val_s)), key=val_s.__getitem__)
    after = len(val) - 1 - best
    if after < RISING_EPOCHS or val_s[-1] < val_s[best] * (1 + OVERFIT_MARGIN) or train_s[-1] >= train_s[best]:
        return None
    rises = sum(b > a for a, b in zip(val_s[best:], val_s[best + 1:]))
    if rises < RISING_EPOCHS:
        return None
    epoch = history[best]["epoch"]
    return Advice("overfitting", epoch,
                  f"overfitting from epoch {epoch}: the validation loss rose from {val[best]:.4g} to {val[-1]:.4g} "
                  f"while the training loss fell from {train[best]:.4g} to {train[-1]:.4g}. Regularise: Dropout, "
                  "weight decay, augmentation, or early stopping",
                  {"series": ["train_loss", "val_loss"], "epochs": [epoch, history[-1]["epoch"]]}, fixes)


def underfitting(history: list[dict]) -> Advice | None:
    """Both losses flat over the last epochs and still high (little below where training began)."""
    train = _losses(history, "train_loss")
    if len(train) < 4 or not _finite(train):
        return None
    last = train[-3:]
    flat = all(abs(b - a) <= FLAT * max(abs(a), 1e-12) for a, b in zip(last, last[1:]))
    val = _losses(history, "val_loss")
    if val and len(val) == len(train):
        flat = flat and all(abs(b - a) <= FLAT * max(abs(a), 1e-12) for a, b in zip(val[-3:], val[-2:]))
    if not flat or train[-1] < 0.8 * train[0]:
        return None
    epoch = history[-3]["epoch"]
    return Advice("underfitting", epoch,
                  f"underfitting: the losses have stayed flat since epoch {epoch} at {train[-1]:.4g}, "
                  f"{train[-1] / train[0]:.0%} of the first epoch's. Try a larger model, a higher learning rate "
                  "or more epochs; check that the inputs are normalised",
                  {"series": ["train_loss", "val_loss"], "epochs": [epoch, history[-1]["epoch"]]})


def divergence(history: list[dict], failure: dict | None, lr: float | None) -> Advice | None:
    """A NaN or infinite loss (`failure`: {"epoch", "batch", "node"}), or a training loss growing epoch on epoch."""
    fixes = (set_training(("optimizer", "lr"), lr / 10, f"set lr {lr / 10:g}"),) if lr else ()
    if failure is not None:
        where = f"epoch {failure['epoch']}" + (f", batch {failure['batch']}" if failure.get("batch") else "")
        node = failure.get("node")
        at_node = f"; the first non-finite value appeared at node '{node}'" if node else ""
        return Advice("divergence", failure["epoch"],
                      f"diverged: the loss became NaN or infinite at {where}{at_node}. Lower the learning rate, "
                      "clip gradients (grad_clip) or normalise the inputs",
                      {"batch": failure.get("batch"), "node": node, "series": ["train_loss"]}, fixes, node)
    train = _losses(history, "train_loss")
    if len(train) >= 3 and train[-1] > 1.5 * min(train) and all(b > a for a, b in zip(train[-3:], train[-2:])):
        epoch = history[train.index(min(train))]["epoch"]
        return Advice("divergence", epoch,
                      f"diverging: the training loss has grown since epoch {epoch} ({min(train):.4g} to "
                      f"{train[-1]:.4g}). Lower the learning rate",
                      {"series": ["train_loss"], "epochs": [epoch, history[-1]["epoch"]]}, fixes)
    return None


def learning_rate(early_losses: list[float], lr: float | None) -> Advice | None:
    """Judged from the first epoch's batch losses: rising or wildly noisy (too high), or not moving (too low)."""
    if len(early_losses) < 20 or not _finite(early_losses):
        return None
    tenth = max(len(early_losses) // 10, 2)
    start, end = statistics.fmean(early_losses[:tenth]), statistics.fmean(early_losses[-tenth:])
    if start <= 0:
        return None
    evidence = {"series": ["batch_loss"], "epochs": [1, 1], "start": start, "end": end}
    if end > 1.1 * start:
        fixes = (set_training(("optimizer", "lr"), lr / 10, f"set lr {lr / 10:g}"),) if lr else ()
        return Advice("lr_too_high", 1, f"the learning rate looks too high: in the first epoch the batch loss rose "
                      f"from {start:.4g} to {end:.4g}", evidence, fixes)
    if end > 0.98 * start:
        fixes = (set_training(("optimizer", "lr"), lr * 10, f"set lr {lr * 10:g}"),) if lr else ()
        return Advice("lr_too_low", 1, f"the learning rate looks too low: in the first epoch the batch loss barely "
                      f"moved ({start:.4g} to {end:.4g})", evidence, fixes)
    return None


# ---- node health -------------------------------------------------------------------
def node_health(samples: list, recent: int = 3) -> list[Advice]:
    """Dead ReLUs, vanishing and exploding gradients, from the last `recent` health samples."""
    samples = samples[-recent:]
    if not samples:
        return []
    dead: dict[str, list[float]] = {}
    grads: dict[str, list[float]] = {}
    for sample in samples:
        for node in sample.nodes:
            if node.dead_fraction is not None:
                dead.setdefault(node.node_id, []).append(node.dead_fraction)
            if node.grad_norm is not None and math.isfinite(node.grad_norm):
                grads.setdefault(node.node_id, []).append(node.grad_norm)
    epoch = samples[-1].epoch
    advice = []
    for node_id, values in dead.items():
        if min(values) > DEAD:
            advice.append(Advice("dead_relu", epoch, f"'{node_id}': {statistics.fmean(values):.0%} of its units "
                                 "output zero for every sample (dead ReLUs). Try LeakyReLU, a lower learning rate "
                                 "or a different initialisation", {"node": node_id, "dead_fraction": values},
                                 node=node_id))
    norms = {node_id: statistics.fmean(values) for node_id, values in grads.items()}
    largest = max(norms.values(), default=0.0)
    for node_id, norm in norms.items():
        if norm > EXPLODING:
            advice.append(Advice("exploding_gradients", epoch, f"'{node_id}': gradient norm {norm:.3g} is exploding; "
                                 "clip gradients or lower the learning rate", {"node": node_id, "grad_norm": norm},
                                 (set_training(("grad_clip",), 1.0, "set grad_clip 1.0"),), node_id))
        elif norm < VANISHING or (largest > 0 and norm < VANISHING_RATIO * largest):
            advice.append(Advice("vanishing_gradients", epoch, f"'{node_id}': gradient norm {norm:.3g} is vanishing "
                                 f"(the largest is {largest:.3g}); its weights barely learn. Try ReLU-like "
                                 "activations, normalisation or skip connections", {"node": node_id, "grad_norm": norm},
                                 node=node_id))
    return advice


def class_imbalance(counts: dict[str, int] | None) -> Advice | None:
    if not counts or len(counts) < 2:
        return None
    largest, smallest = max(counts, key=counts.get), min(counts, key=counts.get)
    ratio = counts[largest] / max(counts[smallest], 1)
    if ratio < IMBALANCE:
        return None
    return Advice("class_imbalance", None, f"the classes are imbalanced: '{largest}' has {counts[largest]} samples, "
                  f"'{smallest}' {counts[smallest]} ({ratio:.0f}x). Accuracy can look good while '{smallest}' is "
                  "never predicted: collect more of it, resample, or weight the loss", {"class_counts": dict(counts)})


# ---- fixes that need the graph ---------------------------------------------------
def regularisation_fixes(graph, training: dict) -> tuple[Fix, ...]:
    """Dropout after the last hidden layer (its activation), weight decay, early stopping; each only if not set."""
    fixes = []
    types = {node.id: node.type for node in graph.nodes()} if graph is not None else {}
    if types and "Dropout" not in types.values():
        place = _dropout_place(graph, types)
        if place is not None:
            fixes.append(Fix(f"insert Dropout(0.3) after {place}",
                             {"op": "insert_after", "node": place, "type": "Dropout", "params": {"p": 0.3}}))
    optimizer = training.get("optimizer") or {}
    if not optimizer.get("weight_decay"):
        fixes.append(set_training(("optimizer", "weight_decay"), 1e-4, "set weight_decay 1e-4"))
    if training.get("patience") is None:
        fixes.append(set_training(("patience",), 5, "set patience 5 (early stopping)"))
    return tuple(fixes)


def _dropout_place(graph, types: dict[str, str]) -> str | None:
    """The output of the last hidden Linear layer (after its activation when one follows it alone)."""
    from graphs.validate import topological_order

    linears = [n for n in topological_order(graph) if types[n] == "Linear"]
    if len(linears) < 2:
        return None
    place = linears[-2]
    after = graph.out_edges(place)
    if len(after) == 1 and types[after[0].target] in ("ReLU", "LeakyReLU", "GELU", "ELU", "SiLU", "Tanh", "Sigmoid"):
        place = after[0].target
    return place


def advise(history: list[dict], *, early_losses: list[float] = (), health: list = (),
           class_counts: dict[str, int] | None = None, training: dict | None = None, graph=None,
           failure: dict | None = None) -> list[Advice]:
    """All the advice for a run so far, the most serious first."""
    training = training or {}
    lr = (training.get("optimizer") or {}).get("lr")
    lr = float(lr) if isinstance(lr, (int, float)) and lr > 0 else None
    found = [divergence(history, failure, lr)]
    if found[0] is None:
        found += [overfitting(history, regularisation_fixes(graph, training)), underfitting(history)]
        found += [learning_rate(list(early_losses), lr)]
    found += node_health(list(health)) + [class_imbalance(class_counts)]
    return [a for a in found if a is not None]


def describe(advice: dict) -> list[str]:
    """One piece of advice (`Advice.as_dict`) as the CLI prints it, escaped."""
    lines = [f"advice ({advice['kind']}): {printable(advice['message'])}"]
    lines += [f"  fix: {printable(fix['title'])}" for fix in advice["fixes"]]
    return lines


def print_advice(advice: list[dict], stream) -> None:
    """The run's advice (`RunResult.advice`) as the CLI prints it at the end of a run."""
    for item in advice:
        print("\n".join(describe(item)), file=stream)
