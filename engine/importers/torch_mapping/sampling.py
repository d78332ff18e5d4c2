"""A VAE's reparameterisation, `mu + torch.randn_like(std) * std` with `std = torch.exp(0.5 * logvar)`, becomes
one Sample node (mean, logvar in).

The traced graph is rewritten before it is mapped: the pattern's last node becomes a call of `reparameterise`,
which `FUNCTIONS` maps to Sample. Sample draws the same noise in training (`randn_like` of the same shape, from
torch's generator) and passes the mean in evaluation. A module that samples in evaluation too cannot be
reproduced exactly there, so the import's check holds its noise at zero (`zero_noise`) and the import says so
in a note; one whose sampling is under `if self.training:` traces in eval mode to `z = mu` and needs no Sample.
"""

from __future__ import annotations

import contextlib
import operator
from unittest import mock

import torch
from torch import fx

NOTE = ("`{where}` (mu + randn_like(std) * std) is a Sample node: it samples while training; in evaluation it "
        "passes the mean, where the module samples too (the import was checked with that noise at zero)")

_MUL = {operator.mul, torch.mul, "mul"}
_ADD = {operator.add, torch.add, "add"}
_EXP = {torch.exp, "exp"}


def reparameterise(mean, logvar):
    """mean + exp(0.5 * logvar) * noise: what Sample computes in training."""
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


def map_sample(importer, node: fx.Node):
    """The `reparameterise(mu, logvar)` call as a Sample node (the `FUNCTIONS` handler)."""
    return importer.add("Sample", {}, [importer.tensor(node.args[0]), importer.tensor(node.args[1])], node)


SAMPLE_FUNCTIONS = {reparameterise: map_sample}


def fuse_reparameterisation(graph: fx.Graph) -> list[str]:
    """Rewrite each reparameterisation in `graph` as a `reparameterise(mu, logvar)` call; returns their names."""
    fused = []
    for noise in [n for n in graph.nodes if n.op == "call_function" and n.target is torch.randn_like]:
        found = _pattern(noise)
        if found is None:
            continue
        total, mean, logvar = found
        with graph.inserting_before(total):
            sample = graph.call_function(reparameterise, (mean, logvar))
        sample.meta = dict(total.meta)
        total.replace_all_uses_with(sample)
        fused.append(total.name)
    if fused:
        graph.eliminate_dead_code()
    return fused


def _pattern(noise: fx.Node):
    """(the add, mu, logvar) around `randn_like(std)`, or None if it is not the reparameterisation."""
    if noise.kwargs or len(noise.args) != 1 or len(noise.users) != 1:
        return None
    std = noise.args[0]
    product = next(iter(noise.users))
    if not _is(product, _MUL) or {_operand(product, 0), _operand(product, 1)} != {noise, std} or len(product.users) != 1:
        return None
    total = next(iter(product.users))
    if not _is(total, _ADD) or total.kwargs:
        return None
    others = [a for a in (_operand(total, 0), _operand(total, 1)) if a is not product]
    logvar = _half_log_variance(std)
    if len(others) != 1 or not isinstance(others[0], fx.Node) or logvar is None:
        return None
    return total, others[0], logvar


def _half_log_variance(std):
    """logvar when `std` is exp(0.5 * logvar) (or exp(logvar / 2)), else None."""
    if not isinstance(std, fx.Node) or not _is(std, _EXP) or len(std.args) != 1:
        return None
    half = std.args[0]
    if not isinstance(half, fx.Node):
        return None
    a, b = _operand(half, 0), _operand(half, 1)
    if _is(half, _MUL):
        return b if a == 0.5 and isinstance(b, fx.Node) else a if b == 0.5 and isinstance(a, fx.Node) else None
    if _is(half, {operator.truediv, torch.div, "div"}) and b == 2 and isinstance(a, fx.Node):
        return a
    return None


def _is(node, targets) -> bool:
    return isinstance(node, fx.Node) and node.op in ("call_function", "call_method") and node.target in targets


def _operand(node: fx.Node, index: int):
    return node.args[index] if index < len(node.args) else None


@contextlib.contextmanager
def zero_noise(active: bool):
    """While active, torch.randn_like returns zeros: a module that samples in eval then gives its mean."""
    if not active:
        yield
        return
    with mock.patch.object(torch, "randn_like", torch.zeros_like):
        yield
