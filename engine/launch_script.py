"""A ready-to-run launch script for distributed training: a torchrun command line and the project.

`write_launch_script(project, out_dir, nproc_per_node, nnodes)` writes into `out_dir`
a copy of the project file and an executable `launch.sh` that runs
`python -m torch.distributed.run ... main.py train PROJECT` (torchrun, run by the
interpreter that wrote the script) on it, so the folder can be carried to a
cluster and started there. The script explains in comments how to run it on one
node and on several (torchrun's rendezvous flags); its settings can be changed
through environment variables without editing it. Nothing here imports torch.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import sys
import time
from pathlib import Path

from engine.custom_layers.export import staged_code_beside
from engine.custom_layers.trust import code_loader
from engine.data_paths import make_data_path_absolute
from engine.errors import UserError
from engine.output_paths import StagedOutputs, check_outputs, same_file
from graphs.errors import ProjectFormatError, printable, quoted
from graphs.project import load_project, save_project

MAIN = Path(__file__).resolve().parents[1] / "main.py"  # this installation's entry point
DEFAULT_PORT = 29400  # torchrun's usual c10d rendezvous port
# the device settings a distributed run takes (engine.training.distributed.start: CUDA or the CPU)
_DISTRIBUTED_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
DISTRIBUTED_DEVICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def default_out_dir(project_path: str | os.PathLike) -> Path:
    """Where the launch folder goes when none is given: `<project>-launch` beside the project."""
    path = Path(project_path)
    return path.with_name(f"{path.stem}-launch")


def write_launch_script(project_path: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                        nproc_per_node: int = 1, nnodes: int = 1, *, rdzv_endpoint: str | None = None,
                        epochs: int | None = None, device: str | None = None,
                        main_path: str | os.PathLike | None = None, python: str | os.PathLike | None = None,
                        script_name: str = "launch.sh", trust_code: bool = False) -> Path:
    """Write `launch.sh` and a copy of the project into `out_dir`; returns the script's path.

    `nproc_per_node` processes on each of `nnodes` nodes (both can be changed when running
    the script: NPROC_PER_NODE=..., NNODES=...). `rdzv_endpoint` ("HOST:PORT", the node
    the others meet at) becomes the script's default for multi-node runs. `epochs` and
    `device` are passed to `train`; the device (or, without one, the project's) must be one a
    distributed run takes. `main_path` is Neurocanvas's main.py on the machine that runs the
    script (default: this installation's, overridable with NEUROCANVAS_MAIN); `python` the
    interpreter that runs torchrun (default: this one, overridable with PYTHON).
    A data file named by a relative path is written into the copy as an absolute path,
    and the script's comments name it, so it can be put where the cluster finds it.
    Nothing from the project reaches the script as shell code: shown in comments only escaped,
    used only as single-quoted words. Both files appear together or, on failure, neither.
    Raises UserError (only) for bad values, an unreadable project, an output that is an input, or
    a folder it can't write. A project with custom layers needs `trust_code`: its code files are copied
    beside the project's copy, and the script's `train` gets `--trust-code`.
    """
    _check_count("nproc_per_node", nproc_per_node)
    _check_count("nnodes", nnodes)
    if epochs is not None:
        _check_count("epochs", epochs)
    if rdzv_endpoint is not None and not _is_endpoint(rdzv_endpoint):
        raise UserError(f"rendezvous endpoint must be HOST:PORT, e.g. node01:{DEFAULT_PORT}, got {quoted(rdzv_endpoint)}")
    source = Path(project_path)
    try:
        project = load_project(source, code_loader(trust_code))
    except ProjectFormatError as error:
        raise UserError(str(error)) from None
    training = project.training if isinstance(project.training, dict) else {}
    _check_device(device, training.get("device", "auto"))
    try:
        data_path = make_data_path_absolute(training.get("dataset"), source.resolve().parent)
    except (ValueError, RuntimeError):  # a NUL in the path; ~user for a user this machine does not know
        raise UserError(f"{source}: training.dataset.path {quoted(training['dataset']['path'])} is not a valid "
                        "file path here") from None
    main = Path(main_path) if main_path is not None else MAIN
    out = Path(out_dir) if out_dir is not None else default_out_dir(source)
    copy, script = out / source.name, out / script_name
    write_copy = not same_file(copy, source)  # into the project's own folder: the project itself serves
    check_outputs({"the project": source, "its data file": data_path, "Neurocanvas's main.py": main},
                  {"the project's copy": copy if write_copy else None, "the launch script": script})
    train_options = [*(["--epochs", str(epochs)] if epochs is not None else []),
                     *(["--device", device] if device is not None else []),
                     *(["--trust-code"] if project.graph.custom_types.files else [])]
    text = _script(project.name, copy.name, nproc_per_node, nnodes, rdzv_endpoint, train_options, main,
                   Path(python) if python is not None else Path(os.path.abspath(sys.executable)), data_path)
    with StagedOutputs() as staged:
        staged.make_folder(out)
        if write_copy:
            try:
                save_project(staged_code_beside(project, out, staged), staged.temporary(copy))
            except ProjectFormatError as error:
                raise UserError(str(error)) from None
        try:
            # surrogateescape: a file name that is not UTF-8 goes back to its own bytes
            staged.temporary(script).write_bytes(text.encode("utf-8", "surrogateescape"))
        except OSError as error:
            raise UserError(f"cannot write '{script}': {error.strerror or error}") from None
    try:
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError as error:
        raise UserError(f"cannot make '{script}' executable: {error.strerror or error}") from None
    return script


def _check_count(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{name} must be a whole number of at least 1, got {value!r}")


def _check_device(given: str | None, project_setting) -> None:
    """Refuse a device the distributed trainer would refuse on the cluster (`given`, else the project's)."""
    setting, where = (given, "--device") if given is not None else (project_setting, "the project's training.device")
    name = setting.strip().lower() if isinstance(setting, str) else None
    if name == "mps":
        raise UserError(f"{where} is 'mps': distributed training runs on CUDA GPUs or the CPU, not on Apple's MPS; "
                        f"use {DISTRIBUTED_DEVICES}")
    if name is None or not _DISTRIBUTED_DEVICE.match(name):
        raise UserError(f"{where} {quoted(setting)} is not a device distributed training can use; "
                        f"use {DISTRIBUTED_DEVICES}")


def rdzv_id_for(project_file: str) -> str:
    """The script's default job id: made of the project file's name, in ASCII letters, digits and dashes."""
    return "neurocanvas-" + "".join(c if c.isascii() and c.isalnum() else "-" for c in Path(project_file).stem)[:40]


def _is_endpoint(text: str) -> bool:
    host, _, port = text.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536 and not any(c.isspace() for c in text)


def _script(name: str, project_file: str, nproc: int, nnodes: int, endpoint: str | None, train_options: list[str],
            main: Path, python: Path, data_path: str | None) -> str:
    """The script's text. Project text (its name, file name, data path) is shown in comments only through
    `printable` (no line break can end a comment) and used only as `shlex.quote`d words."""
    q, shown = shlex.quote, printable
    job_id = rdzv_id_for(project_file)
    data_note = (f"#\n# Data: the project reads {shown(data_path)}\n"
                 f"# (written as an absolute path). Put the data there on every node, or edit\n"
                 f"# training.dataset.path in {shown(project_file)}.\n") if data_path else ""
    options = "".join(f" {q(o)}" for o in train_options)
    return f"""#!/usr/bin/env bash
# Distributed training of the Neurocanvas project {shown(quoted(name))} ({shown(project_file)}, beside this script).
# Written by Neurocanvas on {time.strftime("%Y-%m-%d %H:%M")}.
#
# Run:  bash launch.sh [more train options, e.g. --epochs 20 --out runs/first --check-replicas]
#
# torchrun starts NPROC_PER_NODE processes on each node (one per GPU: NCCL on CUDA, gloo
# on CPUs); they train together with DistributedDataParallel. batch_size in the project
# is the global batch, split evenly over all processes. Only rank 0 prints and writes the
# run folder (default: runs/<project>-<time> beside the project file; set it with --out).
#
# One node: nothing to set;  NPROC_PER_NODE=4 bash launch.sh  for 4 GPUs.
#
# Several nodes: run this script on every node with the same NNODES and RDZV_ENDPOINT,
# e.g. for 2 nodes of 4 GPUs, on each node:
#   NNODES=2 NPROC_PER_NODE=4 RDZV_ENDPOINT=node01:{DEFAULT_PORT} bash launch.sh
# which runs torchrun with these flags:
#   --nnodes=N             how many nodes take part (MIN:MAX for an elastic job)
#   --nproc_per_node=P     processes per node, usually its number of GPUs
#   --rdzv_backend=c10d    the nodes meet (rendezvous) through a store torchrun hosts itself
#   --rdzv_endpoint=H:P    where that store is: a host every node can reach, and a free port
#   --rdzv_id=ID           the job's id: the same on every node, a new one for each job (RDZV_ID)
#   --node_rank=R          optional with c10d (ranks are assigned at the rendezvous); set NODE_RANK
#                          (0 on the first node, 1..N-1 on the others) to fix the order
# The nodes must reach each other's ports (MASTER_PORT and NCCL's); on clusters with several
# network interfaces, NCCL_SOCKET_IFNAME / GLOO_SOCKET_IFNAME choose the one to use.
# Under SLURM, e.g.:  srun --nodes=2 --ntasks-per-node=1 env NNODES=2 \\
#   RDZV_ENDPOINT="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1):{DEFAULT_PORT}" bash launch.sh
#
# Settings (environment variables, defaults in brackets): NPROC_PER_NODE [{nproc}], NNODES [{nnodes}],
# RDZV_ENDPOINT [{shown(endpoint) if endpoint else "none: needed for several nodes"}], RDZV_ID [{shown(job_id)}],
# NODE_RANK [unset], PYTHON [the Python that wrote this script, below: torchrun runs as
# "$PYTHON -m torch.distributed.run"], TORCHRUN [unset: set it to run another torchrun instead],
# NEUROCANVAS_MAIN [Neurocanvas's main.py below: set it to where it is installed].
{data_note}set -euo pipefail
case "${{BASH_SOURCE[0]}}" in
  */*) here="${{BASH_SOURCE[0]%/*}}" ;;
  *) here=. ;;
esac
here="$(CDPATH='' cd -- "$here" && pwd && echo .)"
here="${{here%??}}"  # the dot kept a folder name's trailing line breaks from being cut off
if [ -z "${{NEUROCANVAS_MAIN:-}}" ]; then NEUROCANVAS_MAIN={q(str(main))}; fi
if [ -z "${{PYTHON:-}}" ]; then PYTHON={q(str(python))}; fi
if [ -z "${{NPROC_PER_NODE:-}}" ]; then NPROC_PER_NODE={nproc}; fi
if [ -z "${{NNODES:-}}" ]; then NNODES={nnodes}; fi
if [ -z "${{RDZV_ENDPOINT:-}}" ]; then RDZV_ENDPOINT={q(endpoint or "")}; fi
if [ -z "${{RDZV_ID:-}}" ]; then RDZV_ID={q(job_id)}; fi
if [ -n "${{TORCHRUN:-}}" ]; then
  torchrun=("$TORCHRUN")
else
  torchrun=("$PYTHON" -m torch.distributed.run)
fi

if [ "$NNODES" = 1 ] && [ -z "$RDZV_ENDPOINT" ]; then
  where=(--standalone --nnodes=1)
else
  if [ -z "$RDZV_ENDPOINT" ]; then
    echo "launch.sh: set RDZV_ENDPOINT=HOST:PORT (a node every node can reach) to train on $NNODES nodes" >&2
    exit 2
  fi
  where=(--nnodes="$NNODES" --rdzv_backend=c10d --rdzv_endpoint="$RDZV_ENDPOINT" --rdzv_id="$RDZV_ID")
  if [ -n "${{NODE_RANK:-}}" ]; then
    where+=(--node_rank="$NODE_RANK")
  fi
fi

exec "${{torchrun[@]}}" "${{where[@]}}" --nproc_per_node="$NPROC_PER_NODE" \\
  "$NEUROCANVAS_MAIN" train "$here"/{q(project_file)}{options} "$@"
"""
