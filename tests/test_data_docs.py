"""docs/data.md lists exactly the dataset options the code accepts, with the code's defaults."""

import json
import re
from pathlib import Path

import numpy as np
import torch

from engine.data import SOURCES, load_dataset
from engine.data.builtin import MAX_SAMPLES, SKLEARN_SETS
from engine.data.images import DEFAULT_MAX_MEMORY_MB, MAX_DEFAULT_SIDE
from engine.data.options import COMMON_OPTIONS
from engine.data.tabular import MAX_AUTO_CLASSES

DOC = Path(__file__).resolve().parents[1] / "docs" / "data.md"
ABSENT = "–"  # a dataset that does not take the option, in a table with one column per dataset


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]  # "\|" is a | in a cell


def _name(cell: str) -> str:
    return cell.strip("`")


def documented_options() -> dict[str, dict[str, str]]:
    """{dataset: {option: default cell}} from the doc's option tables; "" holds the options of every dataset.

    A table's datasets are its columns named after datasets, else the first dataset the heading above names."""
    options: dict[str, dict[str, str]] = {}
    heading, header = "", None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading, header = line, None
        elif line.startswith("| option"):
            header = _cells(line)
        elif header and line.startswith("|") and not line.startswith("|---"):
            option, *cells = _cells(line)
            columns = {_name(h): cell for h, cell in zip(header[1:], cells) if _name(h) in SOURCES}
            if not columns:
                named = [n for n in re.findall(r"`(\w+)`", heading) if n in SOURCES]
                columns = {named[0] if named else "": cells[0]}
            for dataset, default in columns.items():
                if default != ABSENT:
                    options.setdefault(dataset, {})[_name(option)] = default
        elif not line.startswith("|"):
            header = None
    return options


def test_every_option_the_code_accepts_is_documented_and_no_other():
    documented = documented_options()
    assert set(documented.pop("")) == set(COMMON_OPTIONS)
    assert set(documented) <= set(SOURCES), "the doc lists options of datasets the code does not know"
    for dataset, accepted in SOURCES.items():
        assert set(documented.get(dataset, {})) == set(accepted), f"dataset '{dataset}'"


def test_every_dataset_is_named():
    text = DOC.read_text(encoding="utf-8")
    assert [name for name in SOURCES if f"`{name}`" not in text] == []


def test_the_limits_quoted_are_the_code_s():
    text = DOC.read_text(encoding="utf-8")
    assert f"4 to {MAX_SAMPLES:,}" in text
    assert f"at most {MAX_AUTO_CLASSES} distinct values" in text
    assert f"| `max_memory_mb` | {DEFAULT_MAX_MEMORY_MB} |" in text
    assert f"at most {MAX_DEFAULT_SIDE} pixels a side" in text


def _literal(cell: str):
    """The JSON value a default cell holds (`true`, `","`, 1000), or None for a sentence."""
    try:
        return json.loads(cell.strip("`"))
    except json.JSONDecodeError:
        return None


def _files(folder: Path) -> dict[str, str]:
    """A small file for each source that reads one."""
    (folder / "table.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 7 * 1.5},{i % 3}\n" for i in range(30)))
    rng = np.random.default_rng(0)
    np.savez(folder / "arrays.npz", x=rng.normal(size=(30, 3)), y=np.arange(30) % 2)
    from PIL import Image

    for label in ("cat", "dog"):
        (folder / "pets" / label).mkdir(parents=True)
        for i in range(5):
            Image.fromarray((rng.random((6, 5, 3)) * 255).astype(np.uint8)).save(folder / "pets" / label / f"{i}.png")
    from engine.data.audio_samples import write_wav

    for label in ("yes", "no"):
        (folder / "sounds" / label).mkdir(parents=True)
        for i in range(5):
            write_wav(folder / "sounds" / label / f"{i}.wav", rng.uniform(-0.5, 0.5, 8000))
    (folder / "reviews.csv").write_text("review,label\n" + "".join(f"text {i % 7} and {i},{i % 2}\n" for i in range(30)))
    return {"csv": "table.csv", "npz": "arrays.npz", "image_folder": "pets", "audio_folder": "sounds", "text_csv": "reviews.csv"}


def _same(first, second) -> bool:
    def batches(split):
        return list(split.batches(64))

    return all(torch.equal(a, b) for (xa, ya), (xb, yb) in zip(batches(first.train) + batches(first.val),
                                                                batches(second.train) + batches(second.val))
               for a, b in ((xa, xb), (ya, yb))) and \
        (first.class_names, first.normalization, first.streaming) == \
        (second.class_names, second.normalization, second.streaming)


def test_the_defaults_documented_are_the_code_s(tmp_path):
    """Loading with an option set to its documented default gives the same data as leaving it out."""
    paths = _files(tmp_path)
    checked = 0
    for dataset, options in documented_options().items():
        if dataset not in SOURCES:
            continue
        spec = {"name": dataset, **({"path": paths[dataset]} if dataset in paths else {})}
        plain = load_dataset(spec, tmp_path)
        for option, cell in options.items():
            value = _literal(cell)
            if value is None:
                continue
            assert _same(plain, load_dataset({**spec, option: value}, tmp_path)), f"{dataset}: {option} = {cell}"
            checked += 1
    assert checked >= 12



def test_the_built_in_sets_are_as_described():
    rows = {}
    for line in DOC.read_text(encoding="utf-8").split("## Built-in datasets")[1].split("\n## ")[0].splitlines():
        if line.startswith("| `"):
            name, samples, features, target, _ = _cells(line)
            rows[_name(name)] = (int(samples.replace(",", "")), features.rsplit(" ", 1)[0], int(target.split(" ")[0]))
    for name, (samples, features, classes) in rows.items():
        dataset = load_dataset({"name": name}, val_split=0.5)
        shape = f"`{list(dataset.input_shape)}`" if dataset.modality == "images" else str(dataset.input_shape[0])
        assert (len(dataset.train) + len(dataset.val), shape, dataset.num_classes) == (samples, features, classes)
    assert set(rows) == set(SKLEARN_SETS)
