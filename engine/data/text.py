"""`text_csv`: a CSV file with a text column and a label column, tokenized for an Embedding.

The tokenizer (HuggingFace `tokenizers`: "word" level, "bpe" or "wordpiece") is
trained on the TRAINING split only: the rows are split first with the run's
seed exactly as `build_dataset` will split them, so validation text may hold
words the tokenizer never saw (they become [UNK]). Every text becomes int64 ids
[max_length], cut to that length or padded with the [PAD] id 0 ([UNK] is 1).
The target is read as the `csv` source reads it (text labels become classes,
a few whole numbers are classes, other numbers a regression value).

`Dataset.preprocessing` holds the trained tokenizer as its JSON string, so a
prediction tokenizes exactly as training did: `encode_texts(preprocessing,
texts)` does it, and `vocabulary_size(dataset)` is what an Embedding's
`num_embeddings` takes from the data.

Options: `path` (or `sample`: a generated set, see `text_samples`), `text` and
`target` (column names or indices; default the first and the last column),
`tokenizer` ("word"), `vocab_size` (8000; the largest vocabulary, fewer when
the training text has fewer tokens), `max_length` (64), `lowercase` (true),
`delimiter` (","), `task` (as `csv`), `skip_empty` (false: an empty text cell
is an error naming its line; true leaves such rows out and says how many).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.arrays import ArrayData, split_indices
from engine.data.csv_reader import Columns, Layout, _TargetCells
from engine.data.options import Options, open_file, shown
from engine.data.tabular import TASKS, _target
from engine.errors import UserError, listing
from graphs.errors import quoted

ACCEPTED = ("path", "sample", "text", "target", "tokenizer", "vocab_size", "max_length", "lowercase", "delimiter",
            "task", "skip_empty")
TOKENIZERS = ("word", "bpe", "wordpiece")
PAD, UNK = "[PAD]", "[UNK]"
PAD_ID = 0  # the special tokens come first in every vocabulary, in this order
MIN_VOCAB, MAX_VOCAB = 3, 1 << 20
MAX_LENGTH = 8192
TOKENIZER_FILE = "tokenizer.json"  # beside a text run's weights
SEPARATOR = "\ue000"  # a private-use character: where one text ends in texts encoded together
CHUNK_TEXTS = 1024  # texts encoded in one call
TEXT_MEMORY_FACTOR = 4  # memory the texts take while read and tokenized, per byte of the file (measured ~2.5-3)


@dataclass
class TextColumn:
    """The rows read from the file: each text and its target."""

    layout: Layout
    texts: list[str]
    columns: Columns  # the target, as numbers or label codes
    skipped: list[int]  # lines left out for an empty text (skip_empty)
    text_name: str = "text"  # the text column's name


# ---- reading the file ------------------------------------------------------------------------

def _column(layout: Layout, value, option: str) -> int:
    """The index of a column given by name or index (negative counts from the end)."""
    width, file = len(layout.names), layout.file
    if isinstance(value, int) and not isinstance(value, bool):
        if not -width <= value < width:
            raise UserError(f"dataset option '{option}': column {value} is out of range; {file} has {width} "
                            f"columns (0 to {width - 1})")
        return value % width
    if not isinstance(value, str):
        raise UserError(f"dataset option '{option}' must be a column name or index, got {quoted(value)}")
    if value not in layout.names:
        raise UserError(f"{file} has no column {quoted(value)} (dataset option '{option}'); its columns are: "
                        f"{listing(layout.names)}")
    return layout.names.index(value)


def _byte_line(path: Path, offset: int) -> int:
    """The line (as a text editor counts it) of the byte at `offset` in the file."""
    with open_file(path) as handle:
        return handle.read(offset).count(b"\n") + 1


def _records(path: Path, handle, delimiter: str):
    """(line, row) of every record that is not blank; a non-UTF-8 byte is a UserError naming its line."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    line = 1
    try:
        for row in reader:
            if len(row) > 1 or (row and row[0].strip()):
                yield line, row
            line = reader.line_num + 1
    except UnicodeDecodeError as error:
        offset = handle.tell() - len(error.object) + error.start
        raise UserError(f"{shown(path)} line {_byte_line(path, offset)} is not UTF-8 text (byte "
                        f"0x{error.object[error.start]:02x} at offset {offset}); save the file as UTF-8") from None
    except csv.Error as error:
        raise UserError(f"{shown(path)} line {reader.line_num} is not valid CSV: {error}") from None


def read_text_csv(path: Path, options: Options) -> TextColumn:
    """The text and target column of the file, row by row, or a UserError naming the bad line and column."""
    if path.is_dir():
        raise UserError(f"{shown(path)} is a folder, not a CSV file")
    delimiter, task = options.char("delimiter", ","), options.choice("task", TASKS, None)
    skip_empty = options.bool("skip_empty", False)
    with open_file(path) as handle:
        records = _records(path, handle, delimiter)
        first = next(records, None)
        if first is None:
            raise UserError(f"{shown(path)} is empty")
        names = [name.strip() or f"column {i + 1}" for i, name in enumerate(first[1])]
        layout = Layout(shown(path), names, True, first[0], True, delimiter)
        if len(names) < 2:
            raise UserError(f"{layout.file} needs at least two columns, a text and a target; its header has "
                            f"{listing(names)}")
        text_index = _column(layout, options.spec.get("text", 0), "text")
        layout.target = _column(layout, options.spec.get("target", -1), "target")
        if text_index == layout.target:
            raise UserError(f"dataset options 'text' and 'target' both name {layout.label(text_index)}; "
                            "choose two different columns")
        cells, columns = _TargetCells(layout, task), Columns(np.empty((0, 0), dtype=np.float32))
        texts, targets, skipped = [], [], []
        for line, row in records:
            if len(row) != len(names):
                raise UserError(f"{layout.file} line {line} has {len(row)} fields but the header has {len(names)}")
            if not row[text_index].strip():
                if skip_empty:
                    skipped.append(line)
                    continue
                raise UserError(f"{layout.where(line, text_index)} is empty; fill in the text or remove the row "
                                '(or set "skip_empty": true in the dataset to leave such rows out)')
            targets.append(cells.value(line, row[layout.target], columns))
            texts.append(row[text_index])
    if not texts:
        raise UserError(f"{layout.file} has a header but no rows of text")
    if cells.first_text:
        columns.codes = np.array(targets, dtype=np.int64)
    else:
        columns.numbers = np.array(targets, dtype=np.float64)
        columns.whole = bool(np.all(columns.numbers == np.round(columns.numbers)))
    columns.rows = len(targets)
    return TextColumn(layout, texts, columns, skipped, names[text_index])


# ---- the tokenizer ---------------------------------------------------------------------------

def new_tokenizer(kind: str, vocab_size: int, lowercase: bool = True):
    """An untrained tokenizer of `kind` and the trainer that fits it (special tokens [PAD] 0, [UNK] 1)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    specials = {"special_tokens": [PAD, UNK], "vocab_size": vocab_size, "show_progress": False}
    if kind == "word":
        tokenizer, trainer = Tokenizer(models.WordLevel(unk_token=UNK)), trainers.WordLevelTrainer(**specials)
    elif kind == "bpe":
        tokenizer, trainer = Tokenizer(models.BPE(unk_token=UNK)), trainers.BpeTrainer(**specials)
    else:
        tokenizer, trainer = Tokenizer(models.WordPiece(unk_token=UNK)), trainers.WordPieceTrainer(**specials)
        tokenizer.decoder = decoders.WordPiece()  # "del ##ight" reads back as "delight"
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer, trainer


def train_tokenizer(texts: list[str], kind: str = "word", vocab_size: int = 8000, lowercase: bool = True):
    """A tokenizer of `kind` trained on `texts`."""
    tokenizer, trainer = new_tokenizer(kind, vocab_size, lowercase)
    tokenizer.train_from_iterator(texts, trainer, length=len(texts))
    return tokenizer


def _encode(tokenizer, texts: list[str], max_length: int, pad_id: int) -> tuple[np.ndarray, int]:
    """Ids int64 [N, max_length] of `texts` (cut or padded), and how many texts were cut.

    Texts are encoded many at a time, joined by a separator the tokenizer knows as a special token
    (so each text is normalised and split on its own, exactly as if encoded alone), and cut apart
    again by the separator's id: the library's cost is per call, not per token. A text holding the
    separator character itself is encoded alone."""
    from tokenizers import Tokenizer

    joiner = Tokenizer.from_str(tokenizer.to_str())
    joiner.no_truncation()
    joiner.no_padding()
    joiner.add_special_tokens([SEPARATOR])
    separator = joiner.token_to_id(SEPARATOR)
    ids = np.full((len(texts), max_length), pad_id, dtype=np.int64)
    chunks = [texts[start:start + CHUNK_TEXTS] for start in range(0, len(texts), CHUNK_TEXTS)]
    joined = [SEPARATOR.join(chunk) if not any(SEPARATOR in text for text in chunk) else None for chunk in chunks]
    encoded = iter(joiner.encode_batch_fast([text for text in joined if text is not None]))
    cut = 0
    for index, (chunk, text) in enumerate(zip(chunks, joined)):
        rows = ids[index * CHUNK_TEXTS:index * CHUNK_TEXTS + len(chunk)]
        if text is None:
            pieces = [np.asarray(e.ids, dtype=np.int64) for e in joiner.encode_batch_fast(chunk)]
        else:
            flat = np.asarray(next(encoded).ids, dtype=np.int64)
            pieces = np.split(flat, np.flatnonzero(flat == separator))
            pieces = [pieces[0]] + [piece[1:] for piece in pieces[1:]]  # each but the first starts at a separator
        for row, piece in zip(rows, pieces):
            row[:min(len(piece), max_length)] = piece[:max_length]
            cut += len(piece) > max_length
    return ids, cut


def preprocessing_of(tokenizer, max_length: int, kind: str) -> dict:
    """The `Dataset.preprocessing` of a text source (JSON-able; the tokenizer as its JSON string)."""
    return {"kind": "text", "tokenizer": tokenizer.to_str(), "tokenizer_type": kind, "max_length": max_length,
            "pad_id": PAD_ID, "vocab_size": tokenizer.get_vocab_size()}


def tokenizer_of(preprocessing) -> object:
    """The trained tokenizer a text preprocessing holds, or a UserError when it holds none."""
    if not isinstance(preprocessing, dict) or preprocessing.get("kind") != "text":
        kind = preprocessing.get("kind") if isinstance(preprocessing, dict) else None
        raise UserError(f"these weights were trained on {quoted(kind) if kind else 'data'} that is not text, so "
                        "they cannot take text input")
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_str(preprocessing["tokenizer"])
    except Exception as error:  # a missing key, or the library's own plain Exception
        raise UserError(f"the weights' tokenizer cannot be read ({type(error).__name__}); retrain the "
                        "model") from None


def encode_texts(preprocessing: dict, texts: list[str]):
    """Texts as the model's input, tokenized exactly as in training: int64 tensor [N, max_length]."""
    import torch

    tokenizer = tokenizer_of(preprocessing)
    bad = next((i for i, text in enumerate(texts) if not isinstance(text, str)), None)
    if bad is not None:
        raise UserError(f"text {bad + 1} is not text, got {quoted(texts[bad])}")
    ids, _cut = _encode(tokenizer, list(texts), int(preprocessing["max_length"]), int(preprocessing["pad_id"]))
    return torch.from_numpy(ids)


def vocabulary_size(dataset) -> int | None:
    """How many token ids a text dataset's inputs use (an Embedding needs at least that many), else None."""
    preprocessing = getattr(dataset, "preprocessing", None)
    if isinstance(preprocessing, dict) and preprocessing.get("kind") == "text":
        return int(preprocessing["vocab_size"])
    return None


# ---- the source ------------------------------------------------------------------------------

def _source_path(options: Options) -> Path:
    if "sample" in options.spec:
        if "path" in options.spec:
            raise UserError("dataset 'text_csv' takes either 'path' or 'sample', not both")
        from engine.data.text_samples import SAMPLES, sample_file

        return sample_file(options.choice("sample", tuple(SAMPLES)))
    return options.path()


def _defaults(options: Options) -> None:
    """A generated sample names its own columns, so a spec naming only the sample reads it."""
    if "sample" in options.spec:
        from engine.data.text_samples import COLUMNS

        options.spec = {"text": COLUMNS[0], "target": COLUMNS[1], **options.spec}


def _notes(read: TextColumn, ids: np.ndarray, cut: int, max_length: int, vocab: int, asked: int) -> list[str]:
    file, notes = read.layout.file, []
    lengths = (ids != PAD_ID).sum(axis=1)
    if cut:
        notes.append(f"{file}: {cut:,} of {len(ids):,} texts ({cut / len(ids):.1%}) are longer than max_length "
                     f"{max_length} tokens and were cut; raise max_length to keep more of them")
    elif lengths.max() < max_length // 2:
        notes.append(f"{file}: the longest text has {int(lengths.max())} tokens, well under max_length "
                     f"{max_length}; a smaller max_length trains faster")
    if vocab < asked:
        notes.append(f"{file}: the training texts hold {vocab:,} distinct tokens, so the vocabulary has {vocab:,} "
                     f"(vocab_size {asked:,} is the most)")
    if read.skipped:
        notes.append(f"{file}: {len(read.skipped):,} rows with an empty text were left out (first: line "
                     f"{read.skipped[0]})")
    return notes


def _check_memory(path: Path, rows: int | None, max_length: int) -> None:
    """Refuse, before it is held, a file whose texts (rows None) or token ids would not fit in memory."""
    from engine.memory_budget import available_bytes, gigabytes

    available = available_bytes()
    if available is None:
        return
    need = rows * max_length * 8 if rows is not None else path.stat().st_size * TEXT_MEMORY_FACTOR
    if need > available:
        what = f"{rows:,} texts of {max_length} int64 token ids" if rows is not None else "its texts"
        raise UserError(f"{shown(path)}: {what} need about {gigabytes(need)} of memory and {gigabytes(available)} "
                        "is available; use a smaller file" + (" or a smaller max_length" if rows else ""))


def load_text_csv(options: Options, val_split: float = 0.2, seed: int = 0) -> ArrayData:
    """The text CSV dataset, its tokenizer trained on the training split that `val_split` and `seed` give."""
    _defaults(options)
    kind = options.choice("tokenizer", TOKENIZERS, "word")
    asked = options.int("vocab_size", 8000, MIN_VOCAB, MAX_VOCAB)
    max_length = options.int("max_length", 64, 1, MAX_LENGTH)
    lowercase = options.bool("lowercase", True)
    path = _source_path(options)
    _check_memory(path, None, max_length)
    read = read_text_csv(path, options)
    _check_memory(path, len(read.texts), max_length)
    train_index, _val = split_indices(len(read.texts), val_split, seed)  # the split build_dataset makes
    tokenizer = train_tokenizer([read.texts[i] for i in np.sort(train_index)], kind, asked, lowercase)
    ids, cut = _encode(tokenizer, read.texts, max_length, PAD_ID)
    y, task, class_names, notes = _target(read.layout, read.columns, options.choice("task", TASKS, None))
    vocab = tokenizer.get_vocab_size()
    notes = [*notes, *_notes(read, ids, cut, max_length, vocab, asked)]
    return ArrayData(ids, y, task, class_names, [read.text_name], modality="text",
                     notes=notes, preprocessing=preprocessing_of(tokenizer, max_length, kind))


def preview_texts(dataset, preview, samples: list) -> None:
    """Fill a DataPreview of a text dataset: the samples' token strings and texts, and every training
    text's token count (a count of max_length may be a text that was cut)."""
    tokenizer = tokenizer_of(dataset.preprocessing)
    pad_id = int(dataset.preprocessing["pad_id"])
    preview.kind = "text"
    for x in samples:
        ids = [int(i) for i in x.tolist() if i != pad_id]
        preview.tokens.append([tokenizer.id_to_token(i) or UNK for i in ids])
        preview.texts.append(tokenizer.decode(ids, skip_special_tokens=False))
    x_train = dataset.x_train
    if x_train is not None:
        preview.lengths = (x_train != pad_id).sum(dim=1).tolist()


def save_tokenizer(preprocessing, folder: Path) -> None:
    """Write a text dataset's tokenizer as `folder/tokenizer.json` (the `tokenizers` library's own format, so
    other tools can load it); nothing for other data. The weights' metadata holds the same tokenizer."""
    if not isinstance(preprocessing, dict) or preprocessing.get("kind") != "text":
        return
    try:
        (folder / TOKENIZER_FILE).write_text(preprocessing["tokenizer"], encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write the run folder's {TOKENIZER_FILE}: {error.strerror or error}") from None
