"""`make bench`: run every benchmark section, print the table, write the results.

Writes bench/results/latest.json (machine + rows) and docs/benchmarks.md (the same
figures, with the date and machine, saying plainly which goals are met).
`python -m bench --quick` does fewer repeats; `--only 1,4` reruns those sections and keeps
the other sections' figures from the last results, saying when each was measured.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from bench.common import Row, machine

ROOT = Path(__file__).resolve().parents[1]
# section number -> (module, title); each module has run(quick=...) -> list[Row]
SECTIONS = {
    "1": ("bench.compiled_vs_handwritten", "Compiled model vs hand-written PyTorch"),
    "2": ("bench.trainer_overhead", "Trainer overhead"),
    "3": ("bench.data_path", "Data path"),
    "4": ("bench.editor_scale", "Editor scale"),
    "5": ("bench.startup", "Start-up"),
    "6": ("bench.gui_training", "GUI under training"),
    "7": ("bench.gpu", "GPU"),
    "8": ("bench.csv_load", "CSV loading"),
    "9": ("bench.architectures", "Standard architectures: training and import"),
    "10": ("bench.image_folder", "Image folders and augmentation"),
    "11": ("bench.tokenize", "Tokenizing text"),
    "12": ("bench.predict", "Predict"),
    "13": ("bench.run_history", "Run history"),
    "14": ("bench.sweeps", "Sweeps"),
    "15": ("bench.layout", "Auto-layout of imported architectures"),
    "16": ("bench.memory_estimate", "Memory estimate vs real peak"),
    "17": ("bench.health", "Health overlay cost"),
    "18": ("bench.units_edit", "Units: editing and compiling"),
}


def run_section(number: str, quick: bool) -> list[Row]:
    module_name, title = SECTIONS[number]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return [Row(f"{number}. {title}", "(section)", None, "", "", None, note=f"skipped: {error}")]
    try:
        return module.run(quick=quick)
    except Exception as error:  # a broken section must not hide the others
        traceback.print_exc()
        return [Row(f"{number}. {title}", "(section)", None, "", "", False, note=f"failed: {error}")]


def format_value(row: Row) -> str:
    if row.value is None:
        return "-"
    if row.unit == "x":
        return f"{row.value:.3f}x"
    return f"{row.value:,.1f} {row.unit}"


def status(row: Row) -> str:
    return {True: "met", False: "NOT met", None: "-"}[row.met]


def table(rows: list[Row]) -> str:
    lines, section = [], None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append(f"\n{section}")
        lines.append(f"  {row.name:<48} {format_value(row):>14}  {row.goal:<12} {status(row):<8} {row.spread}"
                     + (f"  ({row.note})" if row.note else ""))
    return "\n".join(lines)


def merged_with_last(rows: list[Row], numbers: list[str], results: Path, stamp: str) -> tuple[list[Row], str]:
    """A partial run's rows with the last results' rows of the sections it did not rerun, in section order,
    and a sentence saying which figures are from when ("" when nothing was kept)."""
    if not results.exists():
        return rows, ""
    last = json.loads(results.read_text())
    kept = [Row(**row) for row in last["rows"] if _number(row["section"]) not in numbers]
    if not kept:
        return rows, ""
    merged = sorted(kept + rows, key=lambda row: int(_number(row.section)))
    which = f"Section {numbers[0]} was" if len(numbers) == 1 else f"Sections {', '.join(numbers)} were"
    return merged, f"{which} rerun on {stamp}; the others are from the run of {last['date']}."


def _number(section: str) -> str:
    return section.split(".", 1)[0]


def markdown(rows: list[Row], info: dict, stamp: str, seconds: float, partial: str = "") -> str:
    met = sum(1 for r in rows if r.met is True)
    missed = [r for r in rows if r.met is False]
    out = [
        "# Benchmarks", "",
        f"Latest run: {stamp}, {seconds:.0f} s. Machine: {info['cpu']}, {info['cores']} cores, "
        f"GPU: {info['gpu'] or 'none'}, torch {info['torch']}, Python {info['python']}."
        + (f" {partial}" if partial else ""), "",
        "Every ratio is measured side by side in one run against its baseline (interleaved repeats; "
        "the figure is the median, the spread is min-max; section 9's spread is the 95% confidence interval of the median of paired step ratios, and its goal is met only when the interval's low end reaches it). Regenerate with `make bench`.", "",
        f"**Goals met: {met} of {met + len(missed)}.**"
        + (" Not met: " + "; ".join(f"{r.section.split('. ', 1)[-1]} / {r.name}" for r in missed) + "."
           if missed else ""), "",
    ]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            out += ["", f"## {section}", "", "| measure | value | goal | status | spread | note |",
                    "|---|---|---|---|---|---|"]
        out.append(f"| {row.name} | {format_value(row)} | {row.goal} | {status(row)} | {row.spread} | {row.note} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated section numbers")
    parser.add_argument("--no-write", action="store_true", help="print only; don't write results files")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    start = time.perf_counter()
    info = machine()
    rows: list[Row] = []
    numbers = [number.strip() for number in args.only.split(",")]
    for number in numbers:
        print(f"running section {number}: {SECTIONS[number][1]} ...", file=sys.stderr, flush=True)
        rows += run_section(number, args.quick)
    seconds = time.perf_counter() - start
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"Neurocanvas benchmarks, {stamp}, {info['cpu']} ({info['cores']} cores), GPU: {info['gpu'] or 'none'}, "
          f"torch {info['torch']}")
    print(table(rows))
    if not args.no_write:
        results = ROOT / "bench" / "results" / "latest.json"
        results.parent.mkdir(exist_ok=True)
        rows, partial = merged_with_last(rows, numbers, results, stamp)
        payload = {"date": stamp, "seconds": seconds, "machine": info, "partial": partial,
                   "rows": [r.as_dict() for r in rows]}
        results.write_text(json.dumps(payload, indent=2) + "\n")
        gpu_section = _kept_gpu_section()
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "benchmarks.md").write_text(markdown(rows, info, stamp, seconds, partial) + gpu_section)
    return 0


def _kept_gpu_section() -> str:
    """A GPU run made on a lent machine is kept across CPU-only reruns."""
    path = ROOT / "docs" / "benchmarks.md"
    if not path.exists():
        return ""
    text = path.read_text()
    marker = "\n# GPU run"
    return text[text.index(marker):] if marker in text else ""


if __name__ == "__main__":
    sys.exit(main())
