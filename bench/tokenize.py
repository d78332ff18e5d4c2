"""Section 11: tokenizing text: training a tokenizer on reviews and encoding them to padded ids.

100,000 generated reviews (the `sentiment` sample's generator, seeded; 20,000 with --quick) are
tokenized the way `text_csv` does it (engine.data.text: HuggingFace `tokenizers` trained on the
texts, then every text encoded to int64 ids [64], cut or padded). The goal (issue 14): under 3 s
for the word tokenizer. The baseline is what one writes by hand in plain Python: `str.lower().split()`,
a vocabulary from a Counter of the words, ids looked up in a dict into a padded NumPy array; the
ratio is the baseline's time over the engine's (above 1: the engine is faster), in the same run,
interleaved. BPE and WordPiece are timed too, and loading the same reviews from a CSV file into a
Dataset (reading, splitting, tokenizing). Torch runs on one thread; `tokenizers` uses its own
thread pool (as it does in the application).
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from bench.common import Row, interleaved, summarise, timed

SECTION = "11. Tokenizing text"
GOAL_SECONDS = 3.0
MAX_LENGTH = 64
VOCAB_SIZE = 8000


def reviews(n: int) -> list[str]:
    from engine.data.text_samples import review

    rng = random.Random(0)
    return [review(rng)[0] for _ in range(n)]


def engine_tokenize(texts: list[str], kind: str = "word") -> np.ndarray:
    from engine.data.text import PAD_ID, _encode, train_tokenizer

    return _encode(train_tokenizer(texts, kind, VOCAB_SIZE), texts, MAX_LENGTH, PAD_ID)[0]


def plain_tokenize(texts: list[str]) -> np.ndarray:
    """The hand-written baseline: whitespace words, the most common VOCAB_SIZE - 2 kept, 0 pads, 1 unknown."""
    words = [text.lower().split() for text in texts]
    counts = Counter(word for text in words for word in text)
    vocab = {word: i + 2 for i, (word, _) in enumerate(counts.most_common(VOCAB_SIZE - 2))}
    ids = np.zeros((len(texts), MAX_LENGTH), dtype=np.int64)
    for row, text in enumerate(words):
        cut = [vocab.get(word, 1) for word in text[:MAX_LENGTH]]
        ids[row, :len(cut)] = cut
    return ids


def load_from_csv(folder: Path, texts: list[str]) -> float:
    from engine.data import load_dataset

    path = folder / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("review", "label"))
        writer.writerows((text, "positive" if i % 2 else "negative") for i, text in enumerate(texts))
    spec = {"name": "text_csv", "path": str(path), "text": "review", "target": "label", "max_length": MAX_LENGTH}
    return timed(lambda: load_dataset(spec, folder, 0.2, 0))


def run(quick: bool = False) -> list[Row]:
    import torch

    torch.set_num_threads(1)
    n = 20_000 if quick else 100_000
    texts = reviews(n)
    engine_tokenize(texts[:1000])  # imports and first-call costs out of the way
    seconds: list[float] = []

    def candidate() -> float:
        elapsed = timed(lambda: engine_tokenize(texts))
        seconds.append(elapsed)
        return elapsed

    ratios = interleaved(lambda: timed(lambda: plain_tokenize(texts)), candidate, rounds=1 if quick else 3)
    ratio, ratio_spread = summarise(ratios, 2)
    value, spread = summarise(seconds, 2)
    scale = 100_000 / n  # the goal speaks of 100,000 reviews
    rows = [
        Row(SECTION, f"word tokenizer, train + encode {n:,} reviews to [{MAX_LENGTH}] ids", value, "s",
            f"< {GOAL_SECONDS / scale:g} s", value < GOAL_SECONDS / scale, spread,
            note="quick: 20,000 reviews, goal scaled" if quick else ""),
        Row(SECTION, "word tokenizer vs plain-Python str.split + dict (same texts)", ratio, "x", "", None,
            ratio_spread, note="above 1: the engine is faster"),
    ]
    for kind in ("bpe", "wordpiece"):
        rows.append(Row(SECTION, f"{kind} tokenizer, train + encode {n:,} reviews", timed(
            lambda kind=kind: engine_tokenize(texts, kind)), "s", "", None))
    with tempfile.TemporaryDirectory() as folder:
        rows.append(Row(SECTION, f"text_csv: {n:,} reviews from a CSV file to a Dataset", load_from_csv(
            Path(folder), texts), "s", "", None, note="read, split, tokenizer trained on the training split"))
    return rows
