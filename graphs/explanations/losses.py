"""Explanations of the loss node types."""

from __future__ import annotations

from graphs.explanations.base import E

EXPLANATIONS = {
    "CrossEntropyLoss": E("Measures how much probability the model gives the correct class. It applies "
                          "log-softmax to the logits itself, then takes the negative log-probability of the "
                          "target class.",
                          "loss = −log(exp(x_y) / Σ_j exp(x_j))  (averaged over the batch)",
                          "Single-label classification with C classes: the last layer is Linear(C), no Softmax.",
                          "A Softmax before it, or float one-hot targets with the wrong shape; targets are "
                          "int64 class indices."),
    "NLLLoss": E("The negative log-likelihood of the target class, given log-probabilities.",
                 "loss = −x_y  (x = log-probabilities)",
                 "After LogSoftmax; together they equal CrossEntropyLoss.",
                 "Feeding raw logits or probabilities instead of log-probabilities."),
    "MSELoss": E("The mean of the squared differences between prediction and target. Large errors cost much "
                 "more than small ones.",
                 "loss = mean((x − y)²)",
                 "Regression with roughly normal noise, and reconstruction (autoencoders).",
                 "Using it for classification with class indices, or on targets with outliers, which dominate "
                 "it."),
    "L1Loss": E("The mean of the absolute differences between prediction and target. Every error costs in "
                "proportion to its size, so outliers matter less than with MSE.",
                "loss = mean(|x − y|)",
                "Regression with outliers, and predicting medians.",
                "Expecting smooth convergence near zero: its gradient is ±1 up to the end."),
    "SmoothL1Loss": E("Squared error for small differences and absolute error for large ones; beta is where it "
                      "switches.",
                      "ℓ = 0.5·d² / beta if |d| < beta else |d| − 0.5·beta,  d = x − y",
                      "Robust regression, e.g. bounding boxes in object detection.",
                      "Confusing beta with HuberLoss's delta: SmoothL1 = Huber / beta."),
    "HuberLoss": E("Squared error for small differences and linear for large ones, with delta the switch "
                   "point: robust to outliers yet smooth near zero.",
                   "ℓ = 0.5·d² if |d| ≤ delta else delta·(|d| − 0.5·delta),  d = x − y",
                   "Regression with occasional outliers; reinforcement learning value targets.",
                   "A delta far from the scale of the errors: then it is just MSE or just L1."),
    "BCEWithLogitsLoss": E("Binary cross-entropy that takes raw scores (logits) and applies the sigmoid "
                           "itself, in a numerically stable way.",
                           "loss = −[y·log σ(x) + (1 − y)·log(1 − σ(x))]",
                           "Binary and multi-label classification: one logit per label, float targets 0/1.",
                           "A Sigmoid before it (applied twice), or int64 targets (they must be float)."),
    "BCELoss": E("Binary cross-entropy on probabilities that are already in (0, 1).",
                 "loss = −[y·log p + (1 − y)·log(1 − p)]",
                 "After a Sigmoid, when the model must output probabilities.",
                 "It is numerically fragile near 0 and 1; prefer BCEWithLogitsLoss without the Sigmoid."),
    "KLDivLoss": E("The Kullback-Leibler divergence from the target distribution to the model's distribution: "
                   "how much information is lost using one for the other.",
                   "loss = Σ y · (log y − x)  (x = log-probabilities)",
                   "Knowledge distillation and matching distributions (VAE terms, label smoothing).",
                   "Passing probabilities instead of log-probabilities as input, or reduction 'mean' instead of "
                   "'batchmean' (not the true KL)."),
    "PoissonNLLLoss": E("The negative log-likelihood of counts under a Poisson distribution whose rate the model "
                        "predicts.",
                        "loss = exp(x) − y·x  (log_input);  x − y·log(x + eps) otherwise",
                        "Predicting counts: events per hour, photons, clicks.",
                        "log_input True with a model that outputs rates, not log-rates."),
    "GaussianNLLLoss": E("The negative log-likelihood of the target under a normal distribution with the "
                         "predicted mean and variance, so the model learns its own uncertainty.",
                         "loss = 0.5 · (log max(var, eps) + (x − y)² / max(var, eps))",
                         "Regression that must report how sure it is.",
                         "A variance that can be negative: end the var branch with Softplus or Exp."),
    "CosineEmbeddingLoss": E("Pulls two embeddings together (target 1) or pushes them apart past a margin "
                             "(target −1), by their cosine similarity.",
                             "ℓ = 1 − cos(x₁, x₂) if y = 1;  max(0, cos(x₁, x₂) − margin) if y = −1",
                             "Learning similarity: matching pairs, siamese networks.",
                             "Targets of 0 instead of −1."),
    "MarginRankingLoss": E("Asks input1 to rank above input2 (target 1) or below (target −1) by at least a "
                           "margin.",
                           "ℓ = max(0, −y · (x₁ − x₂) + margin)",
                           "Learning to rank: search results, recommendations.",
                           "Targets of 0 instead of −1."),
    "TripletMarginLoss": E("Makes the anchor closer to the positive than to the negative by at least margin, in "
                           "p-norm distance.",
                           "ℓ = max(d(a, p) − d(a, n) + margin, 0)",
                           "Metric learning: face recognition, retrieval embeddings.",
                           "Easy random triplets, which give zero loss and teach nothing."),
    "MultiLabelSoftMarginLoss": E("A logistic loss per label, averaged over the labels: each label is its own "
                                  "yes/no question.",
                                  "loss = −(1/C) Σ_c [y_c·log σ(x_c) + (1 − y_c)·log σ(−x_c)]",
                                  "Multi-label classification (several labels per sample).",
                                  "Class-index targets: it wants a 0/1 vector per sample."),
    "MultiMarginLoss": E("A multi-class hinge loss (as in SVMs): the correct class's score must beat every other "
                         "by margin.",
                         "loss = Σ_{i≠y} max(0, margin − x_y + x_i)^p / C",
                         "Classification when a margin-based (SVM-style) objective is wanted.",
                         "Expecting probabilities out: the scores are not calibrated."),
    "SoftMarginLoss": E("The two-class logistic loss for targets of 1 or −1.",
                        "loss = mean(log(1 + exp(−y · x)))",
                        "Binary classification with ±1 labels.",
                        "0/1 targets: use BCEWithLogitsLoss for those."),
    "CTCLoss": E("Connectionist temporal classification: scores every alignment of a label sequence to a longer "
                 "input sequence, with a blank class between repeats, so no frame-by-frame labels are needed.",
                 "loss = −log Σ_{alignments a → y} Π_t p_t(a_t)",
                 "Speech and handwriting recognition, where the output is shorter than the input.",
                 "Feeding probabilities instead of log-probabilities (use LogSoftmax), or labels that use the "
                 "blank index."),
}
