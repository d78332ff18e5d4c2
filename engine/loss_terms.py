"""How each loss module is applied to the tensors on its ports (`apply_loss`).

Most losses are `module(*tensors in port order)`. Two need more:
- an open optional port (MSELoss's or L1Loss's target) is zeros like the first tensor, so a loss on a model
  output alone is a regulariser: MSELoss an L2 penalty, L1Loss of non-negative terms (a KL term) their mean;
- CTCLoss takes its log-probabilities time first, as torch wants (the model's are batch first), and
  its lengths from the data: every sequence uses all T steps, and a target's length is the count of its
  labels that are not the blank index (targets are padded with it at the end).
Values a loss refuses when it runs (a negative variance) become a `UserError` naming the loss node.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.errors import UserError
from graphs.errors import quoted

_HINTS = {"GaussianNLLLoss": "feed 'var' from a positive activation (Sigmoid, Softplus or Exp)"}


def apply_loss(module: nn.Module, tensors: list[torch.Tensor | None], node_id: str = "") -> torch.Tensor:
    """The loss value of `module` on its ports' tensors (None for an open optional port)."""
    try:
        return _apply(module, tensors)
    except ValueError as error:  # torch's checks of the values (its shape checks ran at inference)
        name = type(module).__name__
        raise UserError(f"{name} {quoted(node_id)} cannot be computed: {str(error).strip()}",
                        _HINTS.get(name, "")) from None


def _apply(module: nn.Module, tensors: list[torch.Tensor | None]) -> torch.Tensor:
    if isinstance(module, nn.CTCLoss):
        log_probs, targets = tensors
        input_lengths = torch.full((log_probs.shape[0],), log_probs.shape[1], dtype=torch.long,
                                   device=log_probs.device)
        target_lengths = (targets != module.blank).sum(dim=1)
        return module(log_probs.transpose(0, 1), targets, input_lengths, target_lengths)
    first = tensors[0]
    return module(*(torch.zeros_like(first) if tensor is None else tensor for tensor in tensors))
