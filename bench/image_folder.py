"""Section 10: image folders and augmentation, against a competent hand-written pipeline.

50,000 32x32 PNG images (3,000 with --quick) of the generated "shapes" set are
written into a temporary folder. Both sides train the same model in the main process, with 2
decoding worker processes, batch 64, augmentation
"random crop with 4 pixels of padding, horizontal flip, brightness jitter":
- the engine: `Trainer` on `image_folder` from the trainer's start (data loading included), its threads
  as `train` chooses them (every core but one, plus every core where the run's own steps time faster
  so: `engine.training.thread_tuner`; the first epoch's workers decode on the other core): the
  first epoch's workers decode into a uint8 cache while the model trains, and augment whole
  batches (the engine's batched crop-and-flip gather and brightness, see
  engine.data.batch_transforms); from the full cache those cheap transforms run on the training
  thread, the workers' hand-over costing more than they do;
- the baseline: Pillow decoding and the same transforms written by hand per sample
  (torchvision style) in a torch DataLoader with 2 persistent workers, training on 1 thread (torch's
  default 2 threads, timed on shortened epochs, fight its workers for the cores and run several
  times slower).
Goals (issue 14): with "a small CNN", first epoch >= 1.0x the baseline's throughput, cached
epochs >= 2x (the baseline decodes every epoch). The goal rows train the CIFAR-10 net of PyTorch's
"Training a Classifier" tutorial (two 5x5 convolutions of 6 and 16 channels, three linear layers),
the small CNN a PyTorch user knows: a project graph built here with the example's training
settings on the engine's side, the same nn.Sequential on the hand-written side. The example's
own CNN (shapes_cnn_augment.json: 16-32-64 channels with batch norm, about 2.8 M multiply-adds an
image, several times the tutorial net's) has rows of its own without goals: with it both sides
spend most of an epoch in the model's training step, so the ratio measures the step,
not the data path; the bare-step rows show that bound. Augmentation adds <= 10% to a training step (measured
on the engine's own batches from the full cache, with and without the augmentation, as the engine
runs it; the same in the worker processes, as kornia's transforms run, is a row for comparison).
The bare training step of each side (no data) is timed in the same run: its images a second bound what
a cached epoch can reach, and the rows say how close each side gets and what that bound allows.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import Row, summarise

SECTION = "10. Image folders and augmentation"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "examples" / "shapes_cnn_augment.json"
AUGMENT = [{"type": "RandomCrop", "size": [32, 32], "padding": 4}, {"type": "RandomHorizontalFlip"},
           {"type": "ColorJitter", "brightness": 0.2}]
BATCH = 64
WORKERS = 2


def _write_part(args) -> None:
    from engine.data.image_samples import write_shapes

    folder, per_class, start = args
    write_shapes(Path(folder), per_class=per_class, start=start)


def write_images(folder: Path, total: int) -> None:
    per_class, parts = -(-total // 3), 4  # at least `total` images
    step = -(-per_class // parts)
    ranges = [(str(folder), min(step, per_class - s), s) for s in range(0, per_class, step)]
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        pool.map(_write_part, ranges)


TUTORIAL_LAYERS = [  # PyTorch's "Training a Classifier" CIFAR-10 net: (node type, params)
    ("Conv2d", {"out_channels": 6, "kernel_size": 5}), ("ReLU", {}), ("MaxPool2d", {"kernel_size": 2}),
    ("Conv2d", {"out_channels": 16, "kernel_size": 5}), ("ReLU", {}), ("MaxPool2d", {"kernel_size": 2}),
    ("Flatten", {}), ("Linear", {"out_features": 120}), ("ReLU", {}), ("Linear", {"out_features": 84}),
    ("ReLU", {})]


def tutorial_net(classes: int = 3) -> torch.nn.Module:
    """The CIFAR-10 net of PyTorch's "Training a Classifier" tutorial, written by hand."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes))


def tutorial_project(classes: int = 3) -> dict:
    """The tutorial net as a project, with the example's training settings (set per run in `engine_epochs`)."""
    example = json.loads(EXAMPLE.read_text())
    layers = [*TUTORIAL_LAYERS, ("Linear", {"out_features": classes})]
    nodes = [{"id": "x", "type": "Input", "position": [0, 0], "params": {"shape": [3, 32, 32]}}]
    nodes += [{"id": f"n{i}", "type": kind, "position": [240 * i, 0], "params": params}
              for i, (kind, params) in enumerate(layers, 1)]
    nodes += [{"id": "y", "type": "Target", "position": [0, 240], "params": {"shape": [], "dtype": "int64"}},
              {"id": "loss", "type": "CrossEntropyLoss", "position": [240 * (len(layers) + 1), 240]}]
    chain = [node["id"] for node in nodes[:len(layers) + 1]]
    edges = [{"source": a, "target": b} for a, b in zip(chain, chain[1:])]
    edges += [{"source": chain[-1], "target": "loss", "target_port": "input"},
              {"source": "y", "target": "loss", "target_port": "target"}]
    return {"format": "neurocanvas", "version": 1, "name": "tutorial-cnn", "nodes": nodes, "edges": edges,
            "training": example["training"]}


def small_cnn(classes: int = 3) -> torch.nn.Module:
    """The example's model, written by hand (the same layers as shapes_cnn_augment.json)."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


MODELS = {"example": (lambda: json.loads(EXAMPLE.read_text()), small_cnn),
          "tutorial": (tutorial_project, tutorial_net)}  # name -> (the project, the same model by hand)


class HandWritten(torch.utils.data.Dataset):
    """Pillow decoding plus per-sample pad-and-crop, flip and brightness, as torchvision's transforms do."""

    def __init__(self, files: list[Path], labels: list[int]):
        self.files, self.labels = files, labels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from PIL import Image

        with Image.open(self.files[i]) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
        padded = np.pad(pixels, ((4, 4), (4, 4), (0, 0)))
        top, left = np.random.randint(0, 9, 2)
        crop = padded[top:top + 32, left:left + 32]
        if np.random.rand() < 0.5:
            crop = crop[:, ::-1]
        x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255.0)
        x = (x * np.random.uniform(0.8, 1.2)).clamp_(0.0, 1.0)
        return x, self.labels[i]


def handwritten_epochs(folder: Path, epochs: int, train: bool = True, model: str = "example",
                       max_batches: int | None = None, threads: int = 1) -> list[float]:
    """Seconds of each epoch of the hand-written pipeline training `model` (a MODELS name; the first epoch
    includes starting the loader); `train` False only delivers the batches (the data pipeline alone);
    `max_batches` ends each epoch early (the epochs then cover max_batches * BATCH images); `threads`: torch's
    threads in the training process (the workers' own are torch's default there, 1)."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    files, labels = [], []
    for index, name in enumerate(classes):
        found = sorted((folder / name).glob("*.png"))
        files += found
        labels += [index] * len(found)
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    net = MODELS[model][1](len(classes))
    optimizer = torch.optim.Adam(net.parameters(), 0.003)
    loss_fn = torch.nn.CrossEntropyLoss()
    started = time.perf_counter()
    loader = torch.utils.data.DataLoader(HandWritten(files, labels), batch_size=BATCH, shuffle=True,
                                         num_workers=WORKERS, persistent_workers=True)
    times = []
    for _ in range(epochs):
        for batch, (x, y) in enumerate(loader, 1):
            if max_batches is not None and batch > max_batches:
                break
            if not train:
                continue
            loss = loss_fn(net(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
    torch.set_num_threads(1)
    return times


def engine_epochs(folder: Path, epochs: int, out: Path, model: str = "example",
                  threads: int | str = "auto") -> tuple[list[float], list[float], list]:
    """Seconds of each epoch of the engine's Trainer training `model` (a MODELS name; the first epoch includes
    loading and decoding the folder), of each epoch the seconds its training thread spent in the training
    steps themselves (the rest: waiting for batches, the trainer's bookkeeping, the epoch's checkpoint), and
    the thread tuner's decisions ((epoch, threads) pairs; `threads` "auto", the default of `train`)."""
    from engine.training import Trainer, events
    from graphs.project import project_from_dict

    class StepTimer(Trainer):
        stepping = 0.0

        def _train_step(self, x, y):
            started = time.perf_counter()
            loss = super()._train_step(x, y)
            self.stepping += time.perf_counter() - started
            return loss

    def epoch_end(event) -> None:
        if isinstance(event, events.EpochEnd):
            ends.append(time.perf_counter())
            steps.append(trainer.stepping)
            trainer.stepping = 0.0

    data = MODELS[model][0]()
    data["training"].update(dataset={"name": "image_folder", "path": str(folder), "augment": AUGMENT},
                            val_split=0.0, batch_size=BATCH, epochs=epochs, schedule=None)
    ends, steps = [], []
    started = time.perf_counter()
    trainer = StepTimer(project_from_dict(data), out_dir=out, threads=threads, callback=epoch_end)
    result = trainer.run()
    torch.set_num_threads(1)
    if result.status != "finished":
        raise RuntimeError(result.message)
    decisions = trainer.thread_tuner.decisions if trainer.thread_tuner is not None else []
    return [b - a for a, b in zip([started, *ends], ends)], steps, decisions


def engine_pipeline_epochs(folder: Path, epochs: int) -> list[float]:
    """Seconds of each epoch of the engine's data path alone: the first decodes into the cache, in the workers
    that also augment the shuffled batches with kornia; later ones read the cache."""
    from engine.data import load_dataset
    from engine.data.augment import Augment

    started = time.perf_counter()
    data = load_dataset({"name": "image_folder", "path": str(folder)}, val_split=0.0)
    train = data.train.with_augment(Augment(AUGMENT, data.input_shape))
    generator, times = torch.Generator().manual_seed(0), []
    for _ in range(epochs):
        for _batch in train.batches(BATCH, shuffle=True, generator=generator):
            pass
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
    train.close()
    return times


def _stepper(channels_last: bool = False, model: str = "example"):
    torch.manual_seed(0)
    net = MODELS[model][1]()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), 0.003)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        loss_fn(net(x), y).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def step_ceilings(steps: int, rounds: int, model: str = "example") -> dict[str, float]:
    """Images a second of the bare training step alone (no data, one batch over and over), the upper bound of
    an epoch's throughput: "engine" in channels-last memory as the engine feeds it, "hand-written" in the
    default NCHW memory, and "engine, 2 threads" (the engine's step with torch's second thread); median of
    alternating rounds."""
    x, y = torch.rand(BATCH, 3, 32, 32), torch.randint(0, 3, (BATCH,))
    channels_last = x.contiguous(memory_format=torch.channels_last)
    cases = {"engine": (_stepper(True, model), channels_last, 1), "hand-written": (_stepper(False, model), x, 1),
             "engine, 2 threads": (_stepper(True, model), channels_last, 2)}
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds + 1):  # the first round warms up
        for name, (step, batch, threads) in cases.items():
            torch.set_num_threads(threads)
            started = time.perf_counter()
            for _ in range(steps):
                step(batch, y)
            seconds[name].append(time.perf_counter() - started)
    torch.set_num_threads(1)
    return {name: BATCH * steps / statistics.median(times[1:]) for name, times in seconds.items()}


def paired_ratios(plain, augmented, rounds: int) -> list[tuple[float, float]]:
    """(wall-clock, CPU-time) ratios augmented / plain, one pair per round, in ABBA order so a drift of the
    machine's load weighs on both sides alike; `plain()` and `augmented()` return (wall, CPU) seconds."""
    ratios = []
    for i in range(rounds):
        if i % 2 == 0:
            plain_time, augmented_time = plain(), augmented()
        else:
            augmented_time, plain_time = augmented(), plain()
        ratios.append((augmented_time[0] / plain_time[0], augmented_time[1] / plain_time[1]))
    return ratios


def timed_steps(batches, step) -> tuple[float, float]:
    """Wall-clock and this thread's CPU seconds of training on `batches`."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for x, y in batches:
        step(x, y)
    return time.perf_counter() - wall, time.thread_time() - cpu


def augmentation_cost(folder: Path, steps: int, rounds: int, in_workers: bool = False) -> list[tuple[float, float]]:
    """(training steps on augmented batches) / (on plain batches), both from the engine's full cache as the
    trainer gets them: its batched transforms on the training thread, or (`in_workers`, as kornia's transforms
    run) in the data's worker processes; in many short alternating rounds (a burst of load from elsewhere
    spoils a few of them, which the median leaves out)."""
    from engine.data import load_dataset
    from engine.data.augment import Augment

    data = load_dataset({"name": "image_folder", "path": str(folder)}, val_split=0.0)
    plain = data.train
    augment = Augment(AUGMENT, data.input_shape)
    augmented = plain.with_augment(torch.nn.Sequential(augment) if in_workers else augment)  # not `cheap`: workers
    step, generator = _stepper(True), torch.Generator().manual_seed(0)
    for _batch in plain.batches(1024):  # fill the cache
        pass

    def train(split) -> tuple[float, float]:
        return timed_steps(split.batches(BATCH, shuffle=True, generator=generator, limit=steps), step)

    train(augmented)  # warms up (starts the workers, where they run it)
    train(plain)
    ratios = paired_ratios(lambda: train(plain), lambda: train(augmented), rounds)
    augmented.close()
    return ratios


def augmentation_cpu_ms(calls: int) -> dict[str, float]:
    """CPU milliseconds (this thread's, so other processes' load counts less) of the augmentation on one batch:
    the engine's (batched crop-and-flip gather and brightness) and kornia's for the same list."""
    import kornia.augmentation as K

    from engine.data.augment import Augment

    x = torch.rand(BATCH, 3, 32, 32)
    kornia = torch.nn.Sequential(K.RandomCrop((32, 32), padding=4, p=1.0), K.RandomHorizontalFlip(),
                                 K.ColorJitter(brightness=0.2, p=1.0))
    results = {}
    with torch.no_grad():
        for name, augment in (("engine", Augment(AUGMENT, (3, 32, 32))), ("kornia", kornia)):
            augment(x)
            started = time.thread_time()
            for _ in range(calls):
                augment(x)
            results[name] = (time.thread_time() - started) / calls * 1000
    return results


def _threads_kept(decisions: list) -> str:
    """What the thread tuner kept, epoch by epoch, for a note."""
    return ", ".join(f"epoch {epoch}: {threads}" for epoch, threads in decisions) or "not tuned"


def _goal_rows(total: int, note: str, base: list[float], ours: list[float], ceilings: dict[str, float],
               two_threads: tuple[int, list[float]]) -> list[Row]:
    """The issue's two goal rows, first and cached epoch, for the tutorial net; `two_threads`: the images of
    each of the hand-written pipeline's shortened epochs at torch's default 2 threads and their seconds."""
    first, cached = base[0] / ours[0], base[1] / ours[1]
    images, seconds = two_threads
    steps = (f"; the bare step alone runs {ceilings['engine']:.0f} images/s in the engine (channels-last, 1 thread), "
             f"{ceilings['engine, 2 threads']:.0f} on 2 threads, {ceilings['hand-written']:.0f} hand-written")
    baseline = (f"; the hand-written pipeline at torch's default 2 threads: {images / seconds[0]:.0f} and "
                f"{images / seconds[1]:.0f} images/s (epochs of {images:,} images; its threads and its 2 workers "
                "share the 2 cores), so the baseline keeps 1 thread, its faster")
    return [
        Row(SECTION, "tutorial CNN: first epoch vs hand-written (Pillow + per-sample transforms)", first, "x",
            ">= 1.0", first >= 1.0, note=note + f"engine {total / ours[0]:.0f} images/s (loading included), "
                                              f"hand-written {total / base[0]:.0f} images/s" + steps),
        Row(SECTION, "tutorial CNN: cached epoch vs hand-written", cached, "x", ">= 2.0", cached >= 2.0,
            note=note + f"engine {total / ours[1]:.0f} images/s, hand-written {total / base[1]:.0f} images/s"
                 + baseline),
    ]


def run(quick: bool = False) -> list[Row]:
    torch.set_num_threads(1)
    total = 3_000 if quick else 50_000
    work = Path(tempfile.mkdtemp(prefix="nc-bench-images-"))
    try:
        folder = work / "shapes"
        started = time.perf_counter()
        write_images(folder, total)
        written = time.perf_counter() - started
        total = sum(1 for _ in folder.glob("*/*.png"))
        tutorial_base = handwritten_epochs(folder, 2, model="tutorial")
        short = 20 if quick else 150  # batches: at 2 threads the hand-written pipeline crawls
        two_threads = (short * BATCH, handwritten_epochs(folder, 2, model="tutorial", max_batches=short, threads=2))
        tutorial_ours, _, tutorial_kept = engine_epochs(folder, 2, work / "tutorial", model="tutorial")
        base = handwritten_epochs(folder, 2)
        ours, stepping, kept = engine_epochs(folder, 2, work / "run")
        base_data, ours_data = handwritten_epochs(folder, 2, train=False), engine_pipeline_epochs(folder, 2)
        cost = augmentation_cost(folder, 10 if quick else 15, 11 if quick else 41)
        in_workers = augmentation_cost(folder, 10 if quick else 15, 11 if quick else 41, in_workers=True)
        ceilings = step_ceilings(10 if quick else 30, 3 if quick else 5)
        tutorial_ceilings = step_ceilings(10 if quick else 30, 3 if quick else 5, "tutorial")
        cpu = augmentation_cpu_ms(50 if quick else 200)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first, cached = base[0] / ours[0], base[1] / ours[1]
    median, spread = summarise([wall for wall, _ in cost])
    workers_median, workers_spread = summarise([wall for wall, _ in in_workers])
    cpu_median, cpu_workers = (statistics.median(cpu for _, cpu in ratios) for ratios in (cost, in_workers))
    note = (f"{total:,} 32x32 PNGs (written in {written:.0f} s), batch {BATCH}, {WORKERS} workers, the engine's "
            "threads as `train` chooses them (every core but one, and every core where its steps time faster: ")
    tutorial_note = f"PyTorch's tutorial CIFAR-10 net, {note}{_threads_kept(tutorial_kept)}), hand-written 1 thread; "
    note = f"the example's CNN (16-32-64 channels), {note}{_threads_kept(kept)}), hand-written 1 thread; "
    engine_cached, hand_cached = total / ours[1], total / base[1]
    cached_threads = dict(kept).get(2, 1)  # what the tuner kept for the cached epoch
    ceiling = ceilings["engine" if cached_threads == 1 else "engine, 2 threads"]
    hand_ceiling = ceilings["hand-written"]
    return [
        *_goal_rows(total, tutorial_note, tutorial_base, tutorial_ours, tutorial_ceilings, two_threads),
        Row(SECTION, "example CNN: first epoch vs hand-written", first, "x", "", None,
            note=note + f"engine {total / ours[0]:.0f} images/s (loading included), hand-written "
                        f"{total / base[0]:.0f} images/s; no goal: with this heavier model both sides spend most "
                        "of the epoch in the model's step (the goals are on the tutorial CNN's rows)"),
        Row(SECTION, "example CNN: cached epoch vs hand-written", cached, "x", "", None,
            note=note + f"engine {engine_cached:.0f} images/s, hand-written {hand_cached:.0f} images/s; "
                        "bounded by the model's step, not the data path: see the next rows"),
        Row(SECTION, "example CNN: engine cached epoch vs its bare-step ceiling", engine_cached / ceiling, "x", "", None,
            note=f"the bare step alone (channels-last, {cached_threads} thread(s) as the tuner kept, no data) runs "
                 f"{ceiling:.0f} images/s; 1.0 would mean the data path and the trainer's bookkeeping cost nothing"),
        Row(SECTION, "example CNN: engine cached epoch, share of its time in the training steps", 100 * stepping[1] / ours[1],
            "%", "", None, note="the training thread's time in forward, loss, backward and optimizer step over the "
                           "epoch's; the rest is waiting for batches, the trainer's bookkeeping, the thread "
                           "tuner's probe and the epoch's checkpoint (measured in the same epoch, so the machine's "
                           "load drifts less between the two)"),
        Row(SECTION, "example CNN: hand-written cached epoch vs its bare-step ceiling", hand_cached / hand_ceiling, "x", "",
            None, note=f"its bare step (NCHW, 1 thread) runs {hand_ceiling:.0f} images/s; it decodes every epoch "
                       "in 2 workers that share the 2 cores with the step"),
        Row(SECTION, "example CNN, bound: engine's bare step vs hand-written cached epoch", ceiling / hand_cached, "x", "",
            None, note=f"the most a cached epoch could reach against the hand-written pipeline at {cached_threads} "
                       "training thread(s) (the data costing nothing)"),
        Row(SECTION, "example CNN: engine's bare step, 2 threads vs 1", ceilings["engine, 2 threads"] / ceilings["engine"], "x", "", None,
            note="torch's second thread on the second core, which the engine's thread tuner takes only where "
                 "the run's own steps time faster with it (engine.training.thread_tuner): with another process "
                 "busy, or the workers decoding, the second thread made the step up to 10x slower"),
        Row(SECTION, "data path alone, first epoch vs hand-written", base_data[0] / ours_data[0], "x", "", None,
            note=f"no model: decoding and augmented batches only; engine {total / ours_data[0]:.0f} images/s, "
                 f"hand-written {total / base_data[0]:.0f} images/s"),
        Row(SECTION, "data path alone, cached epoch vs hand-written", base_data[1] / ours_data[1], "x", "", None,
            note=f"no model; engine {total / ours_data[1]:.0f} images/s, hand-written {total / base_data[1]:.0f} "
                 "images/s"),
        Row(SECTION, "augmentation cost on a training step", median, "x", "<= 1.10",
            median <= 1.10, spread, note="crop with padding, flip, brightness jitter on batches of 64 32x32 images "
                                         "as the engine runs them from a full cache: its batched transforms on the "
                                         "training thread; step time with / without, short paired rounds in ABBA "
                                         "order, median of the ratios; the training thread's CPU time: "
                                         f"{cpu_median:.3f}x"),
        Row(SECTION, "the same augmentation in the data's worker processes", workers_median, "x", "", None,
            workers_spread, note="for comparison: how kornia's transforms (rotation, erasing, other jitters) run from "
                                 "a full cache, off the training thread; the batches' hand-over and the workers "
                                 f"on the 2 cores cost more than the batched transforms; the thread's CPU time: "
                                 f"{cpu_workers:.3f}x"),
        Row(SECTION, "augmentation CPU time, kornia vs the engine's batched transforms", cpu["kornia"] / cpu["engine"],
            "x", "", None, note=f"one batch of 64 32x32 images: kornia {cpu['kornia']:.2f} ms, the engine's "
                                f"batched crop-and-flip gather and brightness {cpu['engine']:.2f} ms "
                                "(CPU time of the thread)"),
    ]
