"""The training loop: plain engine code that knows nothing of Qt.

`Trainer(project, ...).run()` loads the dataset, fills shapeless Input/Target
nodes from it (`engine.data_shapes`, as `check` does), compiles the graph and trains, writing into a run folder
(`engine.training.run_folder`): `project.json` (the project as trained),
`metrics.csv`, `best.safetensors`, `last.safetensors` and, at the end,
`weights.safetensors`. It reports through a callback (see
`engine.training.events`) called from the training thread.

Other threads may call `stop()`, `pause()` and `resume()`; the loop looks at
them before every batch (one attribute read), so a stop is honoured within one
batch, and a pause blocks on a `threading.Event` without busy-waiting.

The hot loop does as little Python as it can: in-memory data lives on the
device and is batched by indexing a seeded permutation, losses stay on the
device and are read (one sync) only when an aggregated progress event is due,
gradients are set to None before each step, and the step is torch's fused one where it can be.

`run()` raises `UserError` for input it can't train on (bad data, invalid graph,
unknown optimizer) before training starts; whatever goes wrong during training
(a NaN loss, CUDA out of memory, an exception in a layer, a full disk) ends the
run with status "failed" and a message that says where, instead (see
`engine.training.failures`). Only a `KeyboardInterrupt` goes through.

Given a `World` (one of several processes started by torchrun, see
`engine.training.distributed`), the trainer wraps the model in
DistributedDataParallel, trains on this process's shard of each epoch, reports
metrics averaged over all processes, and writes files only on rank 0. A stop
asked of any process is agreed on at the next loss all-reduce, so all processes
stop at the same batch; pausing is not supported there.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.compiler import CompiledGraph, CompileError, compile_graph
from engine.data import Dataset, fit_dataset
from engine.data.augment import mixed_loss, training_augment
from engine.data_shapes import graph_as_trained, load_training_data
from engine.errors import UserError
from engine.history.record import run_listeners, with_listeners
from engine.memory_estimate import check_run_memory
from engine.training import events
from engine.training.config import TrainingConfig
from engine.training.devices import bounded_threads, resolve_device
from engine.training.distributed import World
from engine.training.failures import (
    LossNotFinite,
    describe_graph_errors,
    failure_message,
    first_line,
    place_in_run,
    release_memory,
)
from engine.training.fine_tune import apply_fine_tuning, parameter_counts
from engine.training.health_hooks import advise_at_end, advisor_watch, locate_non_finite, make_monitor
from engine.training.init_from import load_matching
from engine.training.init_from import resolve as resolve_init_path
from engine.training.metrics import metric_for
from engine.training.optim import base_lr, build_optimizer, build_schedule, check_settings
from engine.training.run_folder import RunFolder, check_run_dir, make_run_dir, trained_project
from engine.training.thread_tuner import auto_threads
from engine.training.validation import validation_pass
from engine.weights import load_weights, state_tensors
from graphs.document import Graph
from graphs.errors import GraphError
from graphs.project import Project


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators (model init, dropout)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Trains one project once. See the module docstring for what it writes and reports.

    `device`/`epochs` override the project's settings; `dataset` reuses an
    already loaded `Dataset`; `max_batches` caps the batches per epoch (quick
    checks); progress events come every `progress_every` batches if given, else
    at most every `progress_interval` seconds, and at the end of each epoch.
    `threads` sets torch's CPU threads for the whole process when the run starts,
    at most one per usable core (small models train much faster on one thread when
    the CPU is busy; see `devices.default_threads`); None leaves torch's setting;
    "auto" starts on every core but one and, for a run on the CPU, lets a `ThreadTuner`
    time its steps on that and on every core, and keep the faster.
    `world` makes this process one of a distributed run (see the module docstring). `notes` are told first
    in RunStarted's notes (e.g. which fold of a cross-validation this run is).
    """

    def __init__(self, project: Project, *, device: str | None = None, epochs: int | None = None,
                 out_dir: str | Path | None = None, callback: Callable[[events.TrainingEvent], None] | None = None,
                 dataset: Dataset | None = None, max_batches: int | None = None,
                 progress_interval: float = 0.05, progress_every: int | None = None,
                 threads: int | str | None = None,
                 world: World | None = None, notes: tuple[str, ...] = (), health: bool = True):
        self.project = project
        self.world = world
        self.is_main = world is None or world.is_main  # the process that writes files
        self.config = TrainingConfig.from_dict(project.training, epochs=epochs, device=device)
        check_settings(self.config)  # a bad optimizer or schedule fails now, before any data is loaded
        if max_batches is not None and max_batches < 1:
            raise UserError(f"max_batches must be at least 1, got {max_batches}")
        if threads != "auto" and threads is not None and (not isinstance(threads, int) or threads < 1):
            raise UserError(f"threads must be 'auto' or at least 1, got {threads}")
        self._setting_notes: list[str] = list(notes)  # told in RunStarted's notes (`notes`: the caller's)
        if isinstance(threads, int):
            threads, note = bounded_threads(threads)
            self._setting_notes += [note] if note else []
        self.threads = threads
        self.callback = callback
        self.max_batches = max_batches
        self.progress_interval = progress_interval
        self.progress_every = progress_every
        self._out_dir_setting = Path(out_dir) if out_dir is not None else None
        if self._out_dir_setting is not None and self.is_main:
            check_run_dir(self._out_dir_setting)  # refused now, not after the data has loaded
        self._given_dataset = dataset
        self.device: torch.device | None = None
        self.dataset: Dataset | None = None  # as fitted to the model
        self.graph: Graph | None = None  # the project's graph with shapes filled from the data
        self.compiled: CompiledGraph | None = None
        self.out_dir: Path | None = None
        self.history: list[dict] = []
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._control_pending = False  # set by stop()/pause(): the one thing the loop reads every batch
        self._ran = False
        self.health_enabled = health  # sample node health (engine.training.health) and advise at the end
        self._health = None

    # ---- control, from any thread ------------------------------------------
    def stop(self) -> None:
        """End the run before the next batch (also wakes a paused run).

        In a distributed run, all processes stop together at the next all-reduce of the losses."""
        self._stop.set()
        self._running.set()
        if self.world is None:
            self._control_pending = True

    def pause(self) -> None:
        if self.world is not None:
            raise RuntimeError("a distributed run can't be paused; stop it instead")
        self._running.clear()
        self._control_pending = True

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def model(self) -> torch.nn.Module | None:
        return self.compiled.model if self.compiled else None

    @property
    def base_dir(self) -> Path:
        """The folder data paths are relative to: the project file's folder."""
        return self.project.path.parent if self.project.path else Path.cwd()

    # ---- preparation ---------------------------------------------------------
    def prepare(self) -> None:
        """Load the data, fill shapes, compile; raise UserError if the project can't be trained."""
        if self.compiled is not None:
            return
        config = self.config
        self.device = self.world.device if self.world is not None else resolve_device(config.device)
        self.thread_tuner = None
        if self.threads == "auto":
            self.thread_tuner = auto_threads(self.device, self.world)
        elif self.threads is not None:
            torch.set_num_threads(self.threads)
        dataset = self._given_dataset or load_training_data(config, self.base_dir, self._data_progress)
        graph, _ = graph_as_trained(self.project.graph, self.project.training, self.base_dir, dataset)
        seed_everything(config.seed)
        try:
            compiled = compile_graph(graph)
        except CompileError as error:
            raise UserError(describe_graph_errors(error.errors)) from None
        except GraphError as error:
            raise UserError(describe_graph_errors([error])) from None
        self.init_report = None  # what `init_from` loaded and kept random (engine.training.init_from)
        if config.init_from is not None:
            self.init_report = load_matching(compiled.model, resolve_init_path(config.init_from, self.base_dir))
        tuned = compiled.graph if compiled.graph is not None else graph  # with units: the expansion's layers
        self.fine_tuning = apply_fine_tuning(compiled.model, tuned, config.freeze_batchnorm)
        self.dataset = fit_dataset(dataset, compiled)
        # engine.memory_estimate: refuse a run that can't fit; compiled.graph is the graph compiled (with
        # units: its expansion, whose layers compiled.shapes describes)
        check_run_memory(self, compiled.graph, compiled.shapes)
        self.graph, self.compiled = graph, compiled
        self._augment = training_augment(config, dataset, compiled)  # training batches only

    def _data_progress(self, done: int, total: int) -> None:
        if self.callback is not None:
            unit = "images" if self.config.dataset.get("name") == "image_folder" else "bytes"
            if self.config.dataset.get("name") == "audio_folder":
                unit = "sound files"
            self.callback(events.DataProgress(done, total, unit))

    def trained_project(self) -> Project:
        """The project as trained: shapes filled from the data, overrides applied, data paths absolute."""
        project = trained_project(self.project, self.graph, self.config, self.base_dir)
        if self.config.init_from is not None:  # absolute, as the data paths are
            project.training["init_from"] = str(resolve_init_path(self.config.init_from, self.base_dir).resolve())
        return project

    def _open_run(self) -> None:
        """The run folder and the bookkeeping of a run; nothing touches the device yet."""
        config, world = self.config, self.world
        self.notes: list[str] = [*self._setting_notes, *self.dataset.notes]
        make_out_dir = functools.partial(make_run_dir, self._out_dir_setting, self.project, self.base_dir)
        if world is None:
            self.out_dir = make_out_dir()
            self._batches_per_epoch = self.dataset.train.num_batches(config.batch_size, self.max_batches)
            self._every, self._val_indices = self.progress_every, None
        else:
            self.out_dir = world.from_main(make_out_dir)
            self._batches_per_epoch = world.num_batches(len(self.dataset.train), config.batch_size, self.max_batches)
            self._every = self.progress_every or world.sync_every  # every process flushes at the same batches
            self._val_indices = world.val_indices(len(self.dataset.val))
            self.notes += world.notes(config.batch_size)
        first_loss = self.compiled.losses[0]
        self._metric, self._metric_output = metric_for(first_loss.module), first_loss.output_index
        self._folder = RunFolder(self.out_dir, writes=self.is_main, project_name=self.project.name,
                                 metric=self._metric.name, dataset=self.dataset)
        self._folder.save_project(self.trained_project())
        self.notes += self.fine_tuning.notes(parameter_counts(self.compiled.model))
        if self.init_report is not None:
            self.notes += self.init_report.notes()
            self.notes += self.init_report.frozen_but_random(self.fine_tuning.frozen)
            self._folder.write_json("init.json", self.init_report.as_dict())
        self._watch = advisor_watch(self) if self.health_enabled else None  # the advisor: sees every event
        self.callback = with_listeners(self.callback, run_listeners(self) + ([self._watch] if self._watch else []))
        self._total_steps = config.epochs * self._batches_per_epoch
        self._clip = config.grad_clip
        self._amp_dtype, self._scaler = self._mixed_precision()
        if config.compile and self.device.type != "cuda":
            self.notes.append(f"compile is used on CUDA only; running uncompiled on {self.device}")
        self._target_ids = list(self.compiled.targets)
        self._generator = torch.Generator().manual_seed(config.seed)
        self._pending: list[torch.Tensor] = []
        self._pending_sizes: list[int] = []
        self._best: dict | None = None
        # the loss that picks the best epoch and drives early stopping: the training loss without validation
        self._monitor = "val_loss" if len(self.dataset.val) else "train_loss"
        if self._monitor == "train_loss":
            self.notes.append(f"no validation data (val_split 0): training on all {len(self.dataset.train)} samples; "
                              "the best checkpoint and early stopping follow the training loss")
        self._best_state: dict[str, torch.Tensor] | None = None
        self._epoch = self._batch = 0
        self._validating = False
        self._paused_seconds = 0.0
        self._optimizer = None

    def _place_on_device(self) -> None:
        """Model, losses and in-memory data onto the device, then the optimizer (may run out of memory)."""
        config, device = self.config, self.device
        self._model = self.compiled.model.to(device)
        for loss in self.compiled.losses:
            loss.module.to(device)
        self._train_data = self.dataset.train.to(device)
        if self._augment is not None:
            self._augment.to(device)
            self._train_data, self._augment = self._augment.hand_over(self._train_data)
        self._val_data = self.dataset.val.to(device)
        self._parameters = [p for p in self._model.parameters() if p.requires_grad]
        self._optimizer = build_optimizer(config.optimizer, self.fine_tuning.param_groups(
            self._model, base_lr(config.optimizer)), model=self._model)
        self._schedule = build_schedule(config.schedule, self._optimizer, config.epochs, self._batches_per_epoch)
        self._batch_schedule = self._schedule.scheduler if self._schedule and self._schedule.per_batch else None
        forward = self._model if self.world is None else self.world.wrap(self._model)
        self._forward = torch.compile(forward) if config.compile and device.type == "cuda" else forward
        self._health = make_monitor(self) if self.health_enabled else None

    def _mixed_precision(self) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
        amp = self.config.amp
        if amp is None:
            return None, None
        if self.device.type != "cuda":
            self.notes.append(f"amp '{amp}' needs a CUDA device; training in float32 on {self.device}")
            return None, None
        if amp == "bf16" and torch.cuda.is_bf16_supported():
            return torch.bfloat16, None
        if amp == "bf16":
            self.notes.append("this GPU has no bf16 support; using fp16 with gradient scaling")
        return torch.float16, torch.amp.GradScaler("cuda")

    # ---- the run ---------------------------------------------------------------
    def run(self) -> events.RunResult:
        """Train; returns how the run ended (raises UserError only before training starts)."""
        if self._ran:
            raise RuntimeError("a Trainer runs once; create a new one to train again")
        self._ran = True
        self.prepare()
        self._open_run()
        self._emit(events.RunStarted(self.config.epochs, self._batches_per_epoch, len(self.dataset.train),
                                     len(self.dataset.val), str(self.device), self._metric.name, self.out_dir,
                                     self.dataset.describe(), tuple(self.notes)))
        self._started = time.perf_counter()
        details = ""
        try:
            self._place_on_device()
            status, message = self._epochs()
        except Exception as error:  # noqa: BLE001 - any error ends this run, never the process
            status, place = "failed", place_in_run(self._epoch, self._batch, self._validating)
            self._non_finite_at = locate_non_finite(self, error)
            message, details = failure_message(error, place=place, device=self.device,
                                               batch_size=self.config.batch_size, samples=len(self.dataset.train),
                                               optimizer=self._optimizer, grad_clip=self._clip)
        result = self._finish(status, message, details)
        advise_at_end(self, result)  # report.json, result.advice
        self._emit(events.RunEnded(result))
        return result

    def _emit(self, event: events.TrainingEvent) -> None:
        if self.callback is not None:
            self.callback(event)

    def _epochs(self) -> tuple[str, str]:
        config = self.config
        for epoch in range(1, config.epochs + 1):
            started, paused_before = time.perf_counter(), self._paused_seconds
            lr = float(self._optimizer.param_groups[0]["lr"])  # reported: the rate the epoch starts with
            stopped = self._train_epoch(epoch)
            if self.world is not None:  # BatchNorm statistics differ between processes until averaged
                self.world.average_buffers(self._model)
            if stopped:
                return "stopped", f"stopped by request at epoch {epoch}, batch {self._batch}"
            train_seconds = time.perf_counter() - started - (self._paused_seconds - paused_before)
            if self._monitor == "val_loss":
                self._validating = True  # stays set when validation fails, for the message
                validation = self._validate()
                self._validating = False
                if validation is None:
                    return "stopped", f"stopped by request at epoch {epoch}, during validation"
                val_loss, metric_value = validation
                if not math.isfinite(val_loss):
                    raise LossNotFinite(epoch, None, val_loss)
            else:  # val_split 0: no validation data
                val_loss = metric_value = None
            if self._schedule is not None and not self._schedule.per_batch:
                self._schedule.scheduler.step()
            row = {
                "epoch": epoch, "train_loss": self._epoch_loss / max(self._epoch_samples, 1),
                "val_loss": val_loss, self._metric.name: metric_value, "lr": lr,
                "samples_per_sec": self._epoch_samples / max(train_seconds, 1e-9),
            }
            improved = self._best is None or row[self._monitor] < self._best[self._monitor]
            # one copy of the weights serves both checkpoints and early stopping's memory
            state = state_tensors(self._model)
            if improved:
                self._best = row
                self._folder.save_checkpoint("best", state, row)
                if config.patience is not None:  # kept in memory too, to restore at the end
                    self._best_state = state
            self._folder.save_checkpoint("last", state, row)
            row["seconds"] = time.perf_counter() - started - (self._paused_seconds - paused_before)
            row["threads"] = torch.get_num_threads()
            self.history.append(row)
            self._folder.write_metrics(self.history)
            self._emit(events.EpochEnd(epoch, events.EpochMetrics.from_row(row, self._metric.name), improved))
            if self._watch is not None:
                self._emit(events.Advised(epoch, tuple(self._watch.advice())))
            if config.patience is not None and epoch - self._best["epoch"] >= config.patience:
                which = "validation" if self._monitor == "val_loss" else "training"
                return "early_stopped", (f"stopped early at epoch {epoch}: the {which} loss has not improved for "
                                         f"{config.patience} epochs (best: epoch {self._best['epoch']})")
        return "finished", f"finished {config.epochs} epochs"

    def _train_epoch(self, epoch: int) -> bool:
        """One pass over the training data; True when stopped by request."""
        self._model.train()
        self.fine_tuning.hold_norms()
        self._epoch, self._batch = epoch, 0
        self._epoch_loss, self._epoch_samples = 0.0, 0
        pending, sizes, step, health = self._pending, self._pending_sizes, self._train_step, self._health
        batch_schedule, every, interval = self._batch_schedule, self._every, self.progress_interval
        self._last_flush = time.perf_counter()
        next_flush = self._last_flush + interval
        if self.world is None:
            batches = self._train_data.batches(self.config.batch_size, shuffle=True, generator=self._generator,
                                               limit=self.max_batches)
        else:
            batches = self.world.train_batches(self._train_data, self.config.batch_size, self._generator,
                                               self.max_batches)
        batches, batch, tuner = iter(batches), 0, self.thread_tuner
        if tuner is not None:
            tuner.start_epoch(epoch, workers=self._train_data.uses_worker_processes())
        while True:
            if self._control_pending and self._honour_controls(epoch, batch):
                self._batch = batch
                self._optimizer.zero_grad(set_to_none=True)
                return True
            self._batch = batch + 1  # a failure while this batch is read (a streamed file) or trained names it
            if tuner is not None:
                tuner.before_step()
            try:
                x, y = next(batches)
            except StopIteration:
                break
            batch += 1
            if health is not None and health.due():
                pending.append(health.sample(step, x, y, self._emit, epoch, batch,
                                             (epoch - 1) * self._batches_per_epoch + batch))
            else:
                pending.append(step(x, y))
            if tuner is not None:
                tuner.after_step(x.shape[0])
            self._last_x = x
            sizes.append(x.shape[0])
            if batch_schedule is not None:
                batch_schedule.step()
            if every is not None:
                if batch % every == 0:
                    self._flush(epoch, batch)
            elif time.perf_counter() >= next_flush:
                self._flush(epoch, batch)
                next_flush = self._last_flush + interval
        self._batch = batch
        self._optimizer.zero_grad(set_to_none=True)  # no gradients held through validation and checkpoints
        self._flush(epoch, batch)
        return False

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Forward, loss, backward and optimizer step for one batch; returns the detached loss."""
        # the last step's gradients go here (the allocator reuses them, ~8 us); a loop: zero_grad adds ~10 us
        for parameter in self._parameters:
            parameter.grad = None
        x, mix = self._augment(x, y) if self._augment is not None else (x, None)
        if self._amp_dtype is None:
            loss = mixed_loss(self._loss, self._forward(x), y, mix)
        else:
            with self._autocast():
                loss = mixed_loss(self._loss, self._forward(x), y, mix)
        if self._scaler is None:
            loss.backward()
            if self._health is not None and self._health.armed:  # before clipping: the norms as computed
                self._health.read_gradients()
            if self._clip is not None:
                torch.nn.utils.clip_grad_norm_(self._parameters, self._clip)
            self._optimizer.step()
        else:
            self._scaler.scale(loss).backward()
            if self._health is not None and self._health.armed:
                self._health.read_gradients(self._scaler.get_scale())
            if self._clip is not None:
                self._scaler.unscale_(self._optimizer)
                torch.nn.utils.clip_grad_norm_(self._parameters, self._clip)
            self._scaler.step(self._optimizer)
            self._scaler.update()
        return loss.detach()

    def _autocast(self):
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._amp_dtype)

    def _loss(self, outputs, y: torch.Tensor) -> torch.Tensor:
        return self.compiled.compute_loss(outputs, dict.fromkeys(self._target_ids, y))

    def _flush(self, epoch: int, batch: int) -> None:
        """Read the losses since the last flush (one device sync), check them, report them."""
        if not self._pending:
            return
        values = torch.stack(self._pending).float()
        sizes = list(self._pending_sizes)
        if self.world is not None:  # the global batches' losses; a stop asked of any process applies to all
            values, stop = self.world.agree(values, self._stop.is_set())
            sizes = [size * self.world.size for size in sizes]
            if stop:
                self._stop.set()
                self._control_pending = True
        values = values.tolist()
        self._pending.clear()
        self._pending_sizes.clear()
        if not math.isfinite(sum(values)):
            first = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
            if first is not None:
                raise LossNotFinite(epoch, batch - len(values) + 1 + first, values[first])
        samples = sum(sizes)
        self._epoch_loss += sum(v * n for v, n in zip(values, sizes))
        self._epoch_samples += samples
        now = time.perf_counter()
        if self.callback is not None:
            step = (epoch - 1) * self._batches_per_epoch + batch
            active = now - self._started - self._paused_seconds
            eta = active / step * (self._total_steps - step) if step else 0.0
            self.callback(events.BatchProgress(epoch, batch, self._batches_per_epoch, step, self._total_steps,
                                               values, samples / max(now - self._last_flush, 1e-9), eta))
        self._last_flush = now

    def _honour_controls(self, epoch: int, batch: int) -> bool:
        """Block while paused; True when a stop was requested."""
        self._control_pending = False  # cleared first, so a pause() arriving now is seen next batch
        if not self._running.is_set() and not self._stop.is_set():
            self._flush(epoch, batch)
            self._emit(events.Paused(epoch, batch))
            paused_at = time.perf_counter()
            self._running.wait()
            self._paused_seconds += time.perf_counter() - paused_at
            self._last_flush = time.perf_counter()
            if not self._stop.is_set():
                self._emit(events.Resumed(epoch, batch))
        if self._stop.is_set():
            self._flush(epoch, batch)
            return True
        return False

    def _validate(self) -> tuple[float, float] | None:
        """(mean validation loss, metric), or None when stopped by request."""
        self._model.eval()
        forward = self._forward if self.world is None else self._model  # no collectives: shards may differ in size
        return validation_pass(forward, self._loss, self._metric, self._metric_output, self._val_data,
                               self.config.batch_size * 2, self._val_indices, self.device, self._autocast,
                               lambda: self._control_pending and self._stop.is_set(), self.world)

    # ---- the end of a run -------------------------------------------------------
    def _finish(self, status: str, message: str, details: str) -> events.RunResult:
        """Settle the final weights and build the result; raises nothing (but Ctrl+C): a failure is reported."""
        self._pending.clear()
        self._pending_sizes.clear()
        for split in (getattr(self, "_train_data", None), getattr(self, "_val_data", None)):
            getattr(split, "close", lambda: None)()  # a streamed folder's worker processes end with the run
        weights = weights_from = None
        if status == "failed":
            release_memory(self._optimizer, self.device)
            message += self._folder.restore_last(self.model, self.history)  # self._model is unset if placing failed
        else:
            try:
                weights, weights_from = self._write_final_weights(status)
            except Exception as error:  # noqa: BLE001 - the run still reports how it ended
                status, message = "failed", f"{message}, but the final weights could not be saved: " + (
                    str(error) if isinstance(error, UserError) else first_line(error))
                details = "" if isinstance(error, UserError) else traceback.format_exc()
        return events.RunResult(
            status, message, list(self.history), self._metric.name, self._best["epoch"] if self._best else None,
            dict(self._best) if self._best else None, self.out_dir, weights, weights_from,
            dict(self._folder.checkpoints), time.perf_counter() - self._started, details)

    def _write_final_weights(self, status: str) -> tuple[Path, str]:
        """weights.safetensors: the best epoch's weights with early stopping on, else the current ones."""
        stopped_at = (self._epoch, self._batch) if status == "stopped" else None
        if stopped_at is not None:
            self._folder.save_checkpoint("last", self._model, None, stopped_at)
        if self.config.patience is not None and self._best_state is not None:
            load_weights(self._model, self._best_state)
            row, source, stopped_at = self._best, "best", None
        else:
            row = self.history[-1] if self.history else None
            source = "partial" if stopped_at is not None else "last"
        return self._folder.save_weights("weights", self._model, row, stopped_at), source

    # ---- after a run -------------------------------------------------------------
    def evaluate(self, batch_size: int = 512):
        """Predictions on the validation split (see `engine.training.evaluate`)."""
        from engine.training.evaluate import evaluate

        self.prepare()
        return evaluate(self.compiled, self.dataset, batch_size=batch_size)  # on the model's device


def train(project: Project, **options) -> events.RunResult:
    """Train `project` with a new `Trainer(project, **options)`."""
    return Trainer(project, **options).run()
