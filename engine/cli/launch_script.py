"""`launch-script PROJECT --nproc-per-node N [--nnodes M] [--out DIR] ...`: write a distributed launch script.

Writes `launch.sh` (a torchrun command line run by this Python, with comments on
running it on one node or several) and a copy of the project into DIR (default:
`<project>-launch` beside the project), ready to carry to a cluster. The device
(--device, or the project's) must be one a distributed run takes; no output may be
the project or its data. See `engine.launch_script`.
"""

from __future__ import annotations

import shlex

from engine.cli.train import _positive_int
from engine.custom_layers.trust import add_trust_flag
from graphs.errors import printable


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "launch-script", help="write a torchrun launch script for distributed training of a project",
        description="Write launch.sh and a copy of the project into a folder: `bash launch.sh` trains the project "
                    "with torchrun and DistributedDataParallel on one node or several (see the script's comments "
                    "and docs/distributed.md). Exits 0 on success, 2 for bad input.")
    parser.add_argument("project", help="project file (.json)")
    add_trust_flag(parser)  # engine.custom_layers: a project with its own code
    parser.add_argument("--nproc-per-node", type=_positive_int, default=1, metavar="N",
                        help="training processes per node, usually its number of GPUs (default: 1)")
    parser.add_argument("--nnodes", type=_positive_int, default=1, metavar="M", help="number of nodes (default: 1)")
    parser.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                        help="where the nodes meet (a node all can reach), the script's default for several nodes")
    parser.add_argument("--epochs", type=_positive_int, help="epochs to train (default: the project's setting)")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the project's setting; distributed "
                                         "training does not run on mps)")
    parser.add_argument("--out", metavar="DIR", help="folder to write (default: <project>-launch beside the project)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from engine.launch_script import write_launch_script

    script = write_launch_script(args.project, args.out, args.nproc_per_node, args.nnodes,
                                 rdzv_endpoint=args.rdzv_endpoint, epochs=args.epochs, device=args.device,
                                 trust_code=args.trust_code)
    print(printable(f"wrote {script} and the project beside it"))  # a file name may hold control characters
    print(printable(f"run it with: bash {shlex.quote(str(script))}   (see its comments for several nodes)"))
    return 0
