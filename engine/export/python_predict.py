"""The part of a `.py` export that predicts from files: the run's preprocessing, written out as plain code.

With the weights' metadata (see `engine.training.run_folder`), `python_source` adds to the exported file
`CLASS_NAMES`, `PREPROCESSING`, `prepare(inputs)` and `predict(model, inputs, top_k)`, and a `__main__` that
takes file paths: `python model.py photo.png` prints `photo.png: cat (cat 0.912, dog 0.071, ...)`,
the same line as `neurocanvas predict`. Images need Pillow (the same conversion, resize and scaling as
`engine.data.images`); table rows need only the standard library (the fitted column transforms of
`engine.data.columns`, or a numeric table's standardisation); texts need `tokenizers` and the tokenizer
JSON written beside the file (`tokenizer_path`); WAV files need only torch and the standard library (the
reading, mixing, resampling and features of `engine.data.audio`, see `engine.export.python_audio`). A file that
cannot be read stops the exported file with a message naming it, not a traceback.
"""

from __future__ import annotations

import pprint
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.export import python_audio

KINDS = ("images", "table", "text", "audio")


@dataclass(frozen=True)
class PredictionCode:
    """What the export needs to write the predicting part of the file."""

    kind: str  # "images" | "table" | "text" | "audio"
    preprocessing: dict  # the run's record, without a text tokenizer (that goes beside the file)
    class_names: list[str] | None
    input_shape: tuple[int, ...]
    input_dtype: str
    output_index: int
    rule: str  # see engine.predict.predictor.probability_rule
    tokenizer: str | None = None  # the tokenizer's JSON (text)


def prediction_code(compiled, metadata: dict[str, str], target_column=None) -> PredictionCode | None:
    """The predicting part for a model with these weights' metadata; None where the metadata says too little
    (random weights, an older run of a kind other than images or a numeric table)."""
    from engine.predict.predictor import Predictor, probability_rule

    if "metric" not in metadata and "preprocessing" not in metadata:
        return None  # not a run's weights: nothing says how inputs were prepared
    try:
        predictor = Predictor(compiled, metadata, Path("the weights"), {"target": target_column})
    except UserError:
        return None
    kind = predictor.kind.name
    if kind not in KINDS:
        return None
    record = dict(predictor.preprocessing or {"kind": kind})
    if predictor.prepare.normalization is not None and "columns" not in record:
        record.setdefault("mean", predictor.prepare.normalization["mean"])
        record.setdefault("std", predictor.prepare.normalization["std"])
    if kind == "images" and "size" not in record:  # an older run: the Input's [C, H, W] says it
        record.update(size=list(predictor.input_shape[1:]), channels=predictor.input_shape[0])
    if kind == "table" and "columns" not in record and target_column is not None:
        record["target"] = target_column
    tokenizer = record.pop("tokenizer", None) if kind == "text" else None
    classes = predictor.class_names
    rule = probability_rule(predictor.loss, len(classes)) if classes is not None else "value"
    return PredictionCode(kind, record, classes, predictor.input_shape, predictor.input_dtype, predictor.output_index,
                          rule, tokenizer)


def predicting_part(compiled, training: dict | None, weights) -> PredictionCode | None:
    """The predicting part for an export with the trained `weights` file (None without weights) of a project
    with these `training` settings."""
    if weights is None:
        return None
    from engine.training.checkpoint import read_metadata

    dataset = training.get("dataset") if isinstance(training, dict) else None
    target = dataset.get("target") if isinstance(dataset, dict) else None
    return prediction_code(compiled, read_metadata(weights), target)


def tokenizer_path(code_path: Path) -> Path:
    return code_path.with_suffix(".tokenizer.json")


def constants(code: PredictionCode) -> list[str]:
    return [f"CLASS_NAMES = {_literal(code.class_names)}",
            f"PREPROCESSING = {_literal(code.preprocessing)}",
            f"INPUT_SHAPE = {tuple(code.input_shape)!r}"]


def _literal(value) -> str:
    return pprint.pformat(value, width=100, sort_dicts=False)


def functions(code: PredictionCode) -> list[str]:
    """The predicting functions, each a block of the file."""
    prepare = python_audio.audio_block() if code.kind == "audio" else _PREPARE[code.kind]
    return [prepare.strip("\n"), _probabilities(code).strip("\n"), _PREDICT.strip("\n")]


def standard_imports(code: PredictionCode | None) -> tuple[str, ...]:
    """The standard-library modules the predicting part needs at the top of the file."""
    return python_audio.STANDARD_IMPORTS if code is not None and code.kind == "audio" else ()


def main_block(class_name: str, with_default: bool) -> str:
    default = "WEIGHTS" if with_default else "None"
    return f'''
if __name__ == "__main__":
    arguments = sys.argv[1:]
    weights = arguments.pop(0) if arguments and arguments[0].endswith(".safetensors") else {default}
    if weights is None:
        sys.exit("give the weights: python " + sys.argv[0] + " WEIGHTS.safetensors INPUT...")
    model = load(weights)
    if not arguments:  # no inputs: run a random batch, as a check that the model builds
        print("give inputs to predict (" + INPUTS_HELP + "); a random batch gives:")
        with torch.no_grad():
            outputs = model(*example_inputs())
        for name, output in zip(OUTPUTS, outputs if isinstance(outputs, tuple) else (outputs,)):
            print(f"{{name}}: {{list(output.shape)}}")
    try:
        names, answers = predict(model, arguments)
    except (OSError, ValueError) as error:  # an input that cannot be read: its message names it
        sys.exit(f"error: {{error}}")
    for name, answer in zip(names, answers):
        print(f"{{name}}: {{answer}}")
'''


_IMAGES = '''
INPUTS_HELP = "image files, or folders of them"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def read_inputs(arguments):
    """(name, image path) of every image file named, or found in a folder named, in order."""
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            yield from ((str(p), p) for p in found)
        else:
            yield str(path), path


def prepare(paths):
    """Image files as the model's input [N, C, H, W]: converted, resized and scaled as in training."""
    from PIL import Image

    height, width = PREPROCESSING["size"]
    channels = PREPROCESSING.get("channels", INPUT_SHAPE[0])
    batch = []
    for path in paths:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        batch.append(pixels.reshape(height, width, channels).permute(2, 0, 1).float() / 255.0)
    x = torch.stack(batch)
    if PREPROCESSING.get("mean") is not None:
        mean = torch.tensor(PREPROCESSING["mean"]).reshape(-1, 1, 1).expand(channels, 1, 1)
        std = torch.tensor(PREPROCESSING["std"]).reshape(-1, 1, 1).expand(channels, 1, 1)
        x = (x - mean) / std
    return x
'''

_TABLE = '''
INPUTS_HELP = "CSV files with a header row, one row a line"


def read_inputs(arguments):
    """(`file line N`, row) of every row of the CSV files named."""
    import csv

    for argument in arguments:
        with open(argument, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header, line = next(reader), reader.line_num + 1
            for values in reader:
                if values:
                    yield f"{argument} line {line}", dict(zip(header, values))
                line = reader.line_num + 1


def prepare(rows):
    """Table rows (dicts of cells, as csv.DictReader gives them) as the model's input [N, F], made as in
    training: each column's fitted transform (standardised numbers, one-hot levels or codes, missing cells
    filled, missing indicators), or for an older run the numeric columns standardised."""
    if "columns" not in PREPROCESSING:
        return _numeric_rows(rows)
    missing = set(PREPROCESSING.get("missing", ()))
    batch = []
    for row in rows:
        features = []
        for column in PREPROCESSING["columns"]:
            cell = row[column["name"]].strip()
            absent = cell in missing
            if column["encoding"] == "number":
                value = column["fill"] if absent else float(cell)
                features.append((value - column["mean"]) / column["std"])
            else:
                level = column["fill"] if absent else cell
                index = column["levels"].index(level) if level in column["levels"] else -1
                if column["encoding"] == "codes":
                    features.append(float(index + 1))
                else:
                    features += [1.0 if i == index else 0.0 for i in range(len(column["levels"]))]
            if column["indicator"]:
                features.append(1.0 if absent else 0.0)
        batch.append(features)
    return torch.tensor(batch, dtype=torch.float32)


def _numeric_rows(rows):
    width = INPUT_SHAPE[0]
    batch = []
    for row in rows:
        columns = list(row)
        if len(columns) == width + 1:  # the target column is there too: leave it out
            target = PREPROCESSING.get("target", -1)
            columns.remove(columns[target] if isinstance(target, int) else target)
        batch.append([float(row[column]) for column in columns])
    x = torch.tensor(batch, dtype=torch.float32)
    if PREPROCESSING.get("mean") is not None:
        x = (x - torch.tensor(PREPROCESSING["mean"])) / torch.tensor(PREPROCESSING["std"])
    return x
'''

_TEXT = '''
INPUTS_HELP = "text files, one text a line"
TOKENIZER = Path(__file__).with_suffix(".tokenizer.json")


def read_inputs(arguments):
    """(`file line N`, text) of every non-empty line of the text files named."""
    for argument in arguments:
        with open(argument, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield f"{argument} line {number}", line.rstrip("\\r\\n")


def prepare(texts):
    """Texts as the model's input [N, max_length]: the run's tokenizer, cut or padded as in training."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    length, pad_id = PREPROCESSING["max_length"], PREPROCESSING["pad_id"]
    tokenizer.enable_truncation(length)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=tokenizer.id_to_token(pad_id) or "[PAD]", length=length)
    return torch.tensor([encoding.ids for encoding in tokenizer.encode_batch(texts)], dtype=torch.int64)
'''

_PREPARE = {"images": _IMAGES, "table": _TABLE, "text": _TEXT}


def _probabilities(code: PredictionCode) -> str:
    if code.rule == "value":
        body = "    return output.reshape(output.shape[0], -1)"
        what = "A regression's values"
    else:
        what = "Class probabilities"
        body = {
            "softmax": "    return output.softmax(dim=1)",
            "exp": "    return output.exp()",
            "auto": "    looks_like = bool((output >= 0).all()) and torch.allclose(output.sum(1), "
                    "torch.ones(len(output)), atol=1e-3)\n    return output if looks_like else output.softmax(dim=1)",
            "sigmoid": "    positive = torch.sigmoid(output)\n    return torch.cat([1 - positive, positive], dim=1)",
            "probability": "    return torch.cat([1 - output, output], dim=1)",
        }[code.rule]
        if code.rule in ("softmax", "exp", "auto"):
            body = ("    if output.shape[1] == 1:  # one score for the second of two classes\n"
                    "        positive = torch.sigmoid(output)\n"
                    "        return torch.cat([1 - positive, positive], dim=1)\n") + body
    return (f"def scores(output):\n"
            f'    """{what} from the model\'s scored output (the one its loss saw in training)."""\n'
            f"    output = output.reshape(output.shape[0], -1)\n{body}\n")

_PREDICT = '''
def predict(model, arguments, top_k=3, batch_size=256):
    """(names, answers) for the inputs named by `arguments`: `label (label p, ...)` for a classifier,
    the values for a regression."""
    items = list(read_inputs(arguments))
    names, answers = [name for name, _ in items], []
    for start in range(0, len(items), batch_size):
        x = prepare([raw for _, raw in items[start:start + batch_size]])
        x = x.reshape(x.shape[0], *INPUT_SHAPE).to(INPUT_DTYPE)
        with torch.no_grad():
            outputs = model(x)
        output = outputs[OUTPUT_INDEX] if isinstance(outputs, tuple) else outputs
        values = scores(output.float())
        if CLASS_NAMES is None:
            answers += [", ".join(f"{v:.6g}" for v in row) for row in values.tolist()]
            continue
        best, index = values.topk(min(top_k, values.shape[1]), dim=1)
        for probabilities, classes in zip(best.tolist(), index.tolist()):
            ranked = ", ".join(f"{CLASS_NAMES[c]} {p:.3f}" for c, p in zip(classes, probabilities))
            answers.append(f"{CLASS_NAMES[classes[0]]} ({ranked})")
    return names, answers
'''


def more_constants(code: PredictionCode) -> list[str]:
    dtype = "torch.int64" if code.input_dtype == "int64" else "torch.float32"
    return [f"INPUT_DTYPE = {dtype}", f"OUTPUT_INDEX = {code.output_index}"]


def tokenizer_text(code: PredictionCode) -> str | None:
    return code.tokenizer if code.kind == "text" else None

