"""The generated references in docs/ are current, and what the docs and the code point at exists."""

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.training import TrainingConfig, reference
from engine.training.optim import OPTIMIZERS, SCHEDULES, build_optimizer, build_schedule, check_settings
from graphs.reference import markdown

ROOT = Path(__file__).resolve().parents[1]
TRAINING_DOC = ROOT / "docs" / "training.md"


def test_catalogue_reference_is_current():
    assert (ROOT / "docs" / "catalogue.md").read_text() == markdown(), \
        "regenerate with: python -m graphs.reference > docs/catalogue.md"


def test_training_reference_is_current():
    text = TRAINING_DOC.read_text(encoding="utf-8")
    assert reference.replace_section(text) == text, \
        "regenerate with: python -m engine.training.reference --write docs/training.md"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_documented_optimizer_param_takes_its_documented_default(name):
    params = {param: json.loads(default) for param, default in reference.optimizer_params(name)}
    optimizer = build_optimizer({"type": name, **params}, [torch.zeros(1, requires_grad=True)])
    assert {param: optimizer.defaults[param] for param in params} == {
        param: tuple(value) if isinstance(value, list) else value for param, value in params.items()}


def _schedule(spec: dict, epochs: int = 9, lr: float = 0.1):
    return build_schedule(spec, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr), epochs, 5)


def test_the_schedule_defaults_documented_are_the_code_s():
    step = _schedule({"type": "step"}).scheduler
    assert (step.step_size, step.gamma) == (3, 0.1)
    assert _schedule({"type": "step"}, epochs=2).scheduler.step_size == 1  # "at least 1"
    assert _schedule({"type": "one-cycle"}, lr=0.25).scheduler.optimizer.param_groups[0]["max_lr"] == 0.25
    for kind, class_name in reference.SCHEDULE_CLASSES.items():
        assert type(_schedule({"type": kind}).scheduler).__name__ == class_name
    assert set(reference.SCHEDULE_CLASSES) == set(SCHEDULES)


def _json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", text, flags=re.S)


def test_the_training_example_is_valid():
    blocks = [b for b in _json_blocks(TRAINING_DOC.read_text(encoding="utf-8")) if b.startswith('"training"')]
    assert blocks
    for block in blocks:
        config = TrainingConfig.from_dict(json.loads("{" + block + "}")["training"])
        check_settings(config)


# ---- what the code and the docs point at exists ----------------------------------------------------

def _sources() -> list[Path]:
    folders = ("engine", "graphs", "gui", "bench", "tests")
    return [ROOT / "main.py"] + [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def _headings(path: Path) -> set[str]:
    return {line.lstrip("#").strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_docs_named_in_the_code_exist():
    named = {(source.relative_to(ROOT), doc) for source in _sources()
             for doc in re.findall(r"\bdocs/[\w-]+\.md\b", source.read_text(encoding="utf-8"))}
    assert [(str(source), doc) for source, doc in named if not (ROOT / doc).is_file()] == []


def test_sections_named_in_the_code_exist():
    """`see docs/<file>.md, "Section"` (or README) in a docstring or comment names a real heading."""
    pointer = re.compile(r'\b(README|docs/[\w-]+\.md),? "([^"]+)"')
    missing = []
    for source in _sources():
        for doc, section in pointer.findall(source.read_text(encoding="utf-8")):
            path = ROOT / ("README.md" if doc == "README" else doc)
            if section not in _headings(path):
                missing.append(f"{source.relative_to(ROOT)}: {doc} \"{section}\"")
    assert missing == []


@pytest.mark.parametrize("doc", ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))])
def test_relative_links_lead_somewhere(doc):
    path = ROOT / doc
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
        if re.match(r"\w+:", target):
            continue  # a web address
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (anchor and anchor not in {_anchor(h) for h in _headings(linked)}):
            broken.append(target)
    assert broken == []


# ---- the README's snippets run -------------------------------------------------------------------

def test_the_readme_applies_a_runs_preprocessing_to_an_exported_model(tmp_path, monkeypatch, capsys):
    """The "What an export carries" snippet, run as written against a one-epoch run and its ONNX export."""
    from sklearn.datasets import load_breast_cancer

    from engine.cli import run

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### What an export carries"):]
    snippet = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    example = str(ROOT / "resources" / "examples" / "breast_cancer_tabular.json")
    assert run(["train", example, "--epochs", "1", "--threads", "1", "--out", "runs/bc", "--quiet"]) == 0
    assert run(["export", "runs/bc/project.json", "--weights", "runs/bc/weights.safetensors", "--onnx", "bc.onnx"]) == 0
    data = load_breast_cancer()
    rows, truth = data.data[::5], data.target_names[data.target[::5]]
    (tmp_path / "new_rows.csv").write_text("\n".join(",".join(repr(float(v)) for v in row) for row in rows))
    capsys.readouterr()
    exec(compile(snippet, "README.md", "exec"), {})
    predicted = np.array(ast.literal_eval(capsys.readouterr().out))  # the class names the snippet prints
    assert predicted.shape == truth.shape and (predicted == truth).mean() > 0.85


def test_the_readme_catalogue_table_is_the_catalogue():
    from graphs.catalogue import CATALOGUE, CATEGORIES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### The catalogue"):].split("\n\n")[1]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    listed = {category: [re.sub(r"\s*\(.*\)", "", name).strip() for name in types.split(",")]
              for category, types in rows}
    assert listed == {category: [name for name, spec in CATALOGUE.items() if spec.category == category]
                      for category in CATEGORIES}
