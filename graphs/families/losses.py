"""Losses beyond one model output against one Target: KL divergence, Poisson and Gaussian NLL, the
embedding and ranking losses (two or three model outputs), the margin losses and CTC.

A loss port may take a model output or a Target (the dataset's labels); the compiler tells them apart
by what feeds it. Every loss has `loss_weight`: the trainer minimises the weighted sum of all losses
(a VAE's reconstruction plus its KL term, an auxiliary head)."""

from __future__ import annotations

from graphs.node_type import NodeType, bool_param, choice_param, float_param, int_param

LOSS_WEIGHT = float_param("loss_weight", 1.0, 0.0, doc="this loss's weight in the sum the trainer minimises")
_REDUCTION = choice_param("reduction", "mean", ("mean", "sum"))


def loss(name, *params, ports=("input", "target"), doc="", reduction=_REDUCTION, optional=()):
    """A loss node type: its params, then `reduction` and `loss_weight`."""
    return NodeType(name, "Losses", (*params, reduction, LOSS_WEIGHT), tuple(ports), ("out",), doc,
                    optional=tuple(optional))


_MARGIN = ("input1", "input2", "target")

TYPES = [
    loss("KLDivLoss", bool_param("log_target", False, "the target holds log-probabilities too"),
         reduction=choice_param("reduction", "mean", ("mean", "sum", "batchmean"),
                                "'batchmean' gives the true KL divergence per sample"),
         doc="KL divergence: input holds log-probabilities, target (a Target or another model output) "
             "probabilities; same shape."),
    loss("PoissonNLLLoss", bool_param("log_input", True), bool_param("full", False), float_param("eps", 1e-8, 0.0),
         doc="Poisson negative log-likelihood of counts (target) given rates (input); same shape."),
    loss("GaussianNLLLoss", bool_param("full", False), float_param("eps", 1e-6, 0.0),
         ports=("input", "target", "var"),
         doc="Gaussian negative log-likelihood: mean (input), target and a positive variance (var)."),
    loss("CosineEmbeddingLoss", float_param("margin", 0.0, -1.0, 1.0), ports=_MARGIN,
         doc="Pulls input1 and input2 [D] together where target is 1 and apart where it is -1."),
    loss("MarginRankingLoss", float_param("margin", 0.0), ports=_MARGIN,
         doc="Ranks input1 above input2 where target is 1 (below where -1); same shapes."),
    loss("TripletMarginLoss", float_param("margin", 1.0, 0.0), float_param("p", 2.0, 0.0),
         float_param("eps", 1e-6, 0.0), bool_param("swap", False), ports=("anchor", "positive", "negative"),
         doc="Anchor [D] nearer the positive than the negative by a margin; three model outputs, no Target."),
    loss("MultiLabelSoftMarginLoss", doc="Multi-label logits [C] against 0/1 floats [C]."),
    loss("MultiMarginLoss", int_param("p", 1, 1, 2, "1 or 2"), float_param("margin", 1.0),
         doc="Multi-class hinge loss: scores [C] against class indices []."),
    loss("SoftMarginLoss", doc="Two-class logistic loss: input against targets of 1 or -1; same shape."),
    loss("CTCLoss", int_param("blank", 0, 0, doc="the blank class index, also the padding of targets"),
         bool_param("zero_infinity", False), ports=("log_probs", "targets"),
         doc="Connectionist temporal classification: log-probabilities [T, C] against int64 labels [S] "
             "padded with the blank index."),
]
