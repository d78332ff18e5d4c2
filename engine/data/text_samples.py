"""Generated text sets for `text_csv`'s `"sample"` option: seeded CSV files read as a person's own.

"sentiment": 6,000 short film reviews labelled "positive" or "negative". Each
review says what it thinks of two or three aspects of a film with positive or
negative words, often negated ("the plot was not boring" is praise), sometimes
with a contrast ("the music was lovely, but the story was a mess" counts the
part after "but"), with neutral filler, punctuation and a few typos, and 3% of
labels flipped. A bag of words gets part of the way; reading negation and
order gets further, so a sequence model has something to learn. The file has
quoted cells with commas in them, as real exports do.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from engine.data.samples import sample_dir

COLUMNS = ("review", "label")
FILE = "reviews.csv"
VERSION = 1
SIZE = 6000
LABEL_NOISE = 0.03

ASPECTS = ("the movie", "this film", "the plot", "the acting", "the story", "the soundtrack", "the ending",
           "the script", "the cast", "the dialogue", "the camera work", "the pacing", "the lead actor",
           "the direction", "the humour", "the final act", "the visuals", "the characters")
GOOD = ("great", "wonderful", "brilliant", "excellent", "moving", "delightful", "superb", "charming", "gripping",
        "beautiful", "fantastic", "memorable", "clever", "fun", "lovely", "powerful", "smart", "touching",
        "stunning", "enjoyable", "fresh", "witty")
BAD = ("terrible", "boring", "awful", "dull", "weak", "predictable", "bland", "tedious", "messy",
       "disappointing", "poor", "forgettable", "clumsy", "painful", "lazy", "flat", "silly", "slow", "annoying",
       "confusing", "cheap", "stale")
VERBS = ("was", "is", "felt", "seemed", "looked")
NEGATIONS = ("not", "never", "hardly", "not at all", "in no way")
INTENSIFIERS = ("", "", "", "really ", "very ", "quite ", "truly ", "absolutely ", "incredibly ", "rather ")
OPENERS = ("", "", "", "Honestly, ", "To be fair, ", "Well, ", "I have to say ", "In short, ", "Overall, ",
           "For me, ")
FILLER = ("I watched it on a Sunday with friends.", "It runs about two hours.", "We saw it in a small cinema.",
          "My sister picked it.", "The popcorn was cold.", "It came out last year.", "I had read the book first.",
          "The theatre was half empty.", "It is based on a true story.", "There were three of us.")
VERDICTS = {True: ("Recommended!", "Would watch again.", "Go see it.", "Ten out of ten.", "Loved it."),
            False: ("Skip it.", "What a waste of time.", "Not worth the ticket.", "Avoid.", "Two hours lost.")}


def _clause(rng: random.Random, positive: bool) -> str:
    """One aspect judged `positive` or not, half the time through a negated opposite word."""
    aspect, verb = rng.choice(ASPECTS), rng.choice(VERBS)
    if rng.random() < 0.35:  # "not boring" praises; "not great" blames
        word = rng.choice(BAD if positive else GOOD)
        return f"{aspect} {verb} {rng.choice(NEGATIONS)} {word}"
    return f"{aspect} {verb} {rng.choice(INTENSIFIERS)}{rng.choice(GOOD if positive else BAD)}"


def _typo(rng: random.Random, text: str) -> str:
    """Two neighbouring letters swapped somewhere, as a quick typist does."""
    i = rng.randrange(1, len(text) - 2)
    if text[i].isalpha() and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text


def review(rng: random.Random) -> tuple[str, str]:
    """One review and its label."""
    positive = rng.random() < 0.5
    clauses = [_clause(rng, positive) for _ in range(rng.randint(1, 2))]
    text = rng.choice(OPENERS) + " and ".join(clauses)
    if rng.random() < 0.3:  # the contrast comes first; what follows "but" decides
        text = f"{_clause(rng, not positive)}, but {text[0].lower()}{text[1:]}"
    text = text[0].upper() + text[1:] + rng.choice((".", ".", "!", "..."))
    if rng.random() < 0.4:
        text = f"{rng.choice(FILLER)} {text}" if rng.random() < 0.5 else f"{text} {rng.choice(FILLER)}"
    if rng.random() < 0.25:
        text = f"{text} {rng.choice(VERDICTS[positive])}"
    if rng.random() < 0.1:
        text = _typo(rng, text)
    if rng.random() < LABEL_NOISE:
        positive = not positive
    return text, "positive" if positive else "negative"


def write_sentiment(folder: Path, size: int = SIZE, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(folder / FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(review(rng) for _ in range(size))


SAMPLES = {"sentiment": write_sentiment}


def sample_file(name: str) -> Path:
    """The CSV file of generated set `name`, written into the sample cache the first time."""
    return sample_dir(f"text-{name}", VERSION, SAMPLES[name]) / FILE
