"""One pass over the validation split at an epoch's end: the mean loss and the metric, summed on the device
and read with one sync (over all processes of a distributed run)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def validation_pass(forward: Callable, loss: Callable, metric, output_index, data, batch_size: int, indices,
                    device: torch.device, autocast, stopped: Callable[[], bool], world=None
                    ) -> tuple[float, float] | None:
    """(mean validation loss, metric) of `forward` over `data`'s batches (`indices`: this process's share), or
    None when `stopped()` turns true. `output_index` picks the metric's output of a model with several."""
    loss_total = torch.zeros((), device=device)
    metric_total = torch.zeros((), device=device)
    metric_count = 0
    if stopped():
        return None
    with torch.no_grad(), autocast():
        for x, y in data.batches(batch_size, indices=indices):
            if stopped():
                return None
            outputs = forward(x)
            loss_total += loss(outputs, y).float() * x.shape[0]
            output = outputs[output_index] if isinstance(outputs, tuple) else outputs
            metric_total += metric.total(output, y)
            metric_count += metric.count(output, y)
    loss_sum, metric_sum = torch.stack([loss_total, metric_total.float()]).tolist()
    samples = len(data)
    if world is not None:
        loss_sum, metric_sum, samples, metric_count = world.sum([loss_sum, metric_sum, len(indices), metric_count])
    return loss_sum / samples, metric_sum / max(metric_count, 1)
