"""Section 8: loading a numeric CSV file: speed and peak memory of the engine's reader.

A CSV of 5 numeric columns (the last the regression target) is written to a temporary folder:
about 1 GB in the full run, 60 MB with --quick. Each measure runs in a fresh subprocess on one
thread (pyarrow's pools and torch set to 1), so its peak resident memory (ru_maxrss) is its own;
the figure is that peak less the process's memory before loading, against the table's size as
float32 (rows x 5 x 4 bytes). The goals (issue 11): peak under 2x the float32 size, over
100 MB/s. The reader it replaced (the standard library's csv module, every cell a Python
string, columns by zip(*)) is timed on a smaller file for the speed ratio.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import Row

SECTION = "8. CSV loading (numeric, 5 columns)"
ROOT = Path(__file__).resolve().parents[1]
COLUMNS = 5
SPEED_GOAL = 100.0  # MB/s
MEMORY_GOAL = 2.0  # peak / float32 size

# Run in a subprocess: prints {"seconds", "cpu_seconds", "peak_bytes", "rows"} as JSON.
MEASURE = r"""
import json, resource, sys, time
import pyarrow, pyarrow.compute, pyarrow.csv, torch
pyarrow.set_cpu_count(1); pyarrow.set_io_thread_count(1); torch.set_num_threads(1)
from pathlib import Path
from engine.data import load_dataset
from engine.data.options import Options
from engine.data import tabular
what, path = sys.argv[1], Path(sys.argv[2])

def old_reader(path):
    import csv
    import numpy as np
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    columns = [list(column) for column in zip(*rows[1:])]
    return np.stack([np.array(c, dtype=np.float64) for c in columns], axis=1).astype(np.float32)

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start, cpu_start = time.perf_counter(), cpu()
spec = {"name": "csv", "path": str(path)}
if what == "reader":
    rows = len(tabular.load_csv(Options(spec, tabular.ACCEPTED, path.parent)).x)
elif what == "dataset":
    data = load_dataset(spec, path.parent, 0.2, 0)
    rows = len(data.train) + len(data.val)
else:
    rows = len(old_reader(path))
seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu_start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_bytes": peak - before, "rows": rows}))
"""


def write_numeric_csv(path: Path, megabytes: float, seed: int = 0) -> int:
    """A CSV of COLUMNS columns of numbers with 4 decimals (about 45 bytes a row); returns its rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    rows_per_chunk, rows = 200_000, 0
    names = [f"f{i}" for i in range(COLUMNS - 1)] + ["target"]
    with pacsv.CSVWriter(str(path), pa.schema([(n, pa.float64()) for n in names])) as writer:
        while path.stat().st_size < megabytes * 1e6:
            values = np.round(rng.normal(0, 100, (rows_per_chunk, COLUMNS)), 4)
            writer.write_table(pa.table({n: values[:, i] for i, n in enumerate(names)}))
            rows += rows_per_chunk
    return rows


def measure(what: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, what, str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Row]:
    megabytes, old_megabytes = (60, 15) if quick else (1000, 60)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        big, small = Path(folder) / "big.csv", Path(folder) / "small.csv"
        write_numeric_csv(big, megabytes)
        write_numeric_csv(small, old_megabytes)
        size = big.stat().st_size / 1e6
        readers = [measure("reader", big) for _ in range(1 if quick else 3)]
        reader, dataset = min(readers, key=lambda r: r["seconds"]), measure("dataset", big)
        float32 = reader["rows"] * COLUMNS * 4
        what = f"{size:,.0f} MB file, {reader['rows']:,} rows, float32 size {float32 / 1e6:,.0f} MB, one thread"
        speeds = sorted(size / r["seconds"] for r in readers)
        speed = speeds[-1]  # the least disturbed run: the machine is shared
        rows.append(Row(SECTION, "reader: speed (best run)", speed, "MB/s", f"> {SPEED_GOAL:.0f} MB/s",
                        None if quick else speed > SPEED_GOAL,
                        f"{speeds[0]:.0f}-{speeds[-1]:.0f} MB/s over {len(speeds)} runs", what))
        per_cpu = sorted(size / r["cpu_seconds"] for r in readers)[len(readers) // 2]
        rows.append(Row(SECTION, "reader: MB per CPU second (median)", per_cpu, "MB/s", "", None, "",
                        "the speed on a machine with a core free for it"))
        for name, result in (("reader", reader), ("load_dataset (split, standardised)", dataset)):
            ratio = result["peak_bytes"] / float32
            goal = not quick  # a small file's ratio is mostly fixed buffers
            rows.append(Row(SECTION, f"{name}: peak memory / float32 size", ratio, "x",
                            f"< {MEMORY_GOAL}" if goal else "", ratio < MEMORY_GOAL if goal else None,
                            f"{result['peak_bytes'] / 1e6:,.0f} MB peak, {result['seconds']:.1f} s", what))
        new, old = measure("reader", small), measure("old", small)
        ratio = old["seconds"] / new["seconds"]
        rows.append(Row(SECTION, "reader vs the csv-module reader it replaced (speed)", ratio, "x", "", None,
                        f"{new['seconds']:.2f} s vs {old['seconds']:.2f} s",
                        f"{small.stat().st_size / 1e6:,.0f} MB file; old peak "
                        f"{old['peak_bytes'] / new['rows'] / COLUMNS / 4:.1f}x float32 size"))
    return rows
