"""Explanations of the data, dense, convolution, pooling and normalisation node types."""

from __future__ import annotations

from graphs.explanations.base import E

_LAYOUT = {1: "[C, L] (signals, sequences)", 2: "[C, H, W] (images)", 3: "[C, D, H, W] (volumes, video)"}
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _conv(n: int):
    return E(f"Slides out_channels learned filters of size kernel_size over an input {_LAYOUT[n]} and outputs one "
             "feature map per filter. Each output value is a weighted sum over a small neighbourhood of every input "
             "channel, so the same pattern detector is reused at every position.",
             "y[o] = b[o] + Σ_c w[o, c] ⋆ x[c];  out = ⌊(in + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1",
             f"For data with a grid structure ({_LAYOUT[n]}) where nearby values belong together; stack several "
             "with pooling or stride to see larger regions.",
             "Feeding a flat vector (it needs channels first), or forgetting padding = k // 2 when the spatial "
             "size should stay the same.")


def _conv_transpose(n: int):
    return E(f"The transpose (gradient) of a convolution over {_LAYOUT[n]}: it spreads each input value over a "
             "kernel-sized patch, so with stride > 1 it makes the output larger. Decoders and U-Nets use it to "
             "upsample with learned filters.",
             "out = (in − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1",
             "To upsample feature maps in decoders, autoencoders and segmentation networks.",
             "Checkerboard artefacts when kernel_size is not a multiple of stride; Upsample followed by a Conv "
             f"is a smoother alternative. Sizes ({_SPATIAL[n]}) rarely come out right without output_padding.")


def _max_pool(n: int):
    return E(f"Keeps the largest value of each kernel_size window of {_LAYOUT[n]}, channel by channel. It shrinks "
             "the map and makes the features a little tolerant to small shifts. It has no weights.",
             "y = max over the window of x;  out = ⌊(in + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1",
             "Between convolution blocks to halve the spatial size (kernel_size 2, stride 2).",
             "Pooling too often, so a small input (8x8 digits) shrinks to nothing and later layers fail.")


def _avg_pool(n: int):
    return E(f"Replaces each kernel_size window of {_LAYOUT[n]} by its mean, channel by channel. It shrinks the "
             "map and smooths it. It has no weights.",
             "y = (1 / |window|) · Σ_window x;  out = ⌊(in + 2·padding − k) / stride⌋ + 1",
             "To downsample more gently than max pooling, e.g. in smooth signals.",
             "Forgetting that stride defaults to kernel_size, so the map shrinks by k, not by 1.")


def _adaptive(kind: str, n: int):
    word = {"Avg": "mean", "Max": "maximum"}[kind]
    return E(f"Pools {_LAYOUT[n]} to a fixed output_size whatever the input size, choosing the windows itself. "
             f"Each output cell is the {word} of its window.",
             f"y[i] = {word} of x over window i;  window i = [⌊i·in/out⌋, ⌈(i+1)·in/out⌉)",
             "Before the classifier head (output_size 1, 'global pooling'), so the model accepts any input size.",
             "Using output_size 1 and then Linear without Flatten: the output is still [C, 1, ...].")


def _batch_norm(layout: str):
    return E(f"Normalises each channel of {layout} to zero mean and unit variance over the batch, then scales and "
             "shifts it with learned γ and β. It keeps running averages for evaluation.",
             "y = (x − mean_batch) / √(var_batch + eps) · γ + β",
             "After a convolution or Linear and before its activation, in deep networks, to train faster and "
             "with higher learning rates.",
             "Very small batches (1-4 samples): the batch statistics are noise. Also comparing train and eval "
             "outputs, which use different statistics.")


def _instance_norm(layout: str):
    return E(f"Normalises each channel of each sample of {layout} on its own (over its positions), not over the "
             "batch. By default it has no learned scale and keeps no running statistics.",
             "y = (x − mean_positions) / √(var_positions + eps) · γ + β",
             "Style transfer and image generation, where each image's contrast should not matter.",
             "Using it for classification, where per-image statistics carry information it throws away.")


def _dropout_channels(layout: str):
    return E(f"While training, zeroes whole channels of {layout} with probability p and scales the rest by "
             "1 / (1 − p); in evaluation it does nothing. Neighbouring values in a map are correlated, so "
             "dropping whole channels regularises better than dropping single values.",
             "y[c] = x[c] · m[c] / (1 − p),  m[c] ~ Bernoulli(1 − p)",
             "After convolution blocks of a model that overfits.",
             "A high p (0.5) on early, narrow layers: the model cannot learn. Try 0.1-0.2.")


EXPLANATIONS = {
    "Input": E("Where a sample enters the model. Its shape leaves out the batch dimension; left empty, it takes "
               "the dataset's shape.",
               "x ∈ ℝ^shape (per sample); a batch is [N, *shape]",
               "Once per model input; a model with two inputs has two Input nodes.",
               "Writing the batch dimension into shape ([32, 1, 8, 8] instead of [1, 8, 8])."),
    "Target": E("The labels of a sample, fed to a loss's target port. It is not part of the model and is not "
                "used at prediction time.",
                "y ∈ shape; [] with int64 for one class index per sample",
                "For every loss that compares the model's output with the dataset's labels.",
                "A dtype that does not fit the loss: CrossEntropyLoss wants int64 class indices, MSELoss and "
                "BCEWithLogitsLoss want float32."),
    "Linear": E("A fully connected layer: every output is a weighted sum of all inputs plus a bias. Stacked with "
                "activations between them, Linear layers form a multi-layer perceptron (MLP).",
                "y = x Aᵀ + b,  A ∈ ℝ^(out_features × in_features)",
                "On feature vectors, and as the final classifier or regression head.",
                "Putting two Linear layers in a row without an activation: together they are still one linear "
                "map. Or feeding an image [C, H, W] without Flatten first."),
    **{f"Conv{n}d": _conv(n) for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": _conv_transpose(n) for n in (1, 2, 3)},
    "Embedding": E("A learned lookup table: each integer index (a word, a token, a category) picks one row, a "
                   "trained vector of embedding_dim numbers.",
                   "y = W[x],  W ∈ ℝ^(num_embeddings × embedding_dim)",
                   "As the first layer for tokens or categorical features, before an RNN, attention or Linear.",
                   "Feeding float values, or indices ≥ num_embeddings (the vocabulary must cover every id)."),
    **{f"MaxPool{n}d": _max_pool(n) for n in (1, 2, 3)},
    **{f"AvgPool{n}d": _avg_pool(n) for n in (1, 2, 3)},
    **{f"Adaptive{k}Pool{n}d": _adaptive(k, n) for k in ("Avg", "Max") for n in (1, 2, 3)},
    "BatchNorm1d": _batch_norm("[C] or [C, L]"),
    "BatchNorm2d": _batch_norm("[C, H, W]"),
    "BatchNorm3d": _batch_norm("[C, D, H, W]"),
    "InstanceNorm1d": _instance_norm("[C, L]"),
    "InstanceNorm2d": _instance_norm("[C, H, W]"),
    "LayerNorm": E("Normalises each sample over its last normalized_dims dimensions to zero mean and unit variance, "
                   "then applies a learned scale and shift. It does not depend on the batch.",
                   "y = (x − mean) / √(var + eps) · γ + β  (statistics over the trailing dims)",
                   "In Transformers and RNNs, and whenever batches are small.",
                   "Normalising over the wrong dims: for a sequence [T, E] normalise over E only "
                   "(normalized_dims = 1)."),
    "GroupNorm": E("Splits the channels into num_groups groups and normalises each group of each sample on its "
                   "own. It sits between LayerNorm (1 group) and InstanceNorm (one group per channel).",
                   "y = (x − mean_group) / √(var_group + eps) · γ + β",
                   "Convolutional networks trained with small batches, where BatchNorm is unreliable.",
                   "A num_groups that does not divide the channel count."),
    "RMSNorm": E("Divides each sample by the root mean square of its trailing dimensions and applies a learned "
                 "scale. Unlike LayerNorm it does not subtract the mean, which makes it cheaper.",
                 "y = x / √(mean(x²) + eps) · γ",
                 "Modern Transformer blocks (as in LLaMA) in place of LayerNorm.",
                 "Expecting zero-mean outputs: RMSNorm keeps the mean."),
    "LocalResponseNorm": E("Divides each channel by a sum over its neighbouring channels at the same position, "
                           "a form of lateral inhibition from AlexNet.",
                           "y[c] = x[c] / (k + α/n · Σ_{c' near c} x[c']²)^β,  n = size",
                           "Reproducing older architectures (AlexNet, GoogLeNet v1).",
                           "Using it in new designs: BatchNorm or GroupNorm work better."),
    "Dropout": E("While training, zeroes each element with probability p and scales the rest by 1 / (1 − p); in "
                 "evaluation it passes the input through. The network cannot rely on any single unit, which "
                 "reduces overfitting.",
                 "y = x · m / (1 − p),  m ~ Bernoulli(1 − p);  y = x in eval",
                 "After hidden Linear layers (p 0.2-0.5) of a model whose validation loss rises while its "
                 "training loss falls.",
                 "Placing it after the output layer, or judging accuracy in training mode, where Dropout is on."),
    "Dropout1d": _dropout_channels("[C, L]"),
    "Dropout2d": _dropout_channels("[C, H, W]"),
    "Dropout3d": _dropout_channels("[C, D, H, W]"),
    "AlphaDropout": E("Dropout for self-normalising networks: dropped values are set to SELU's negative "
                      "saturation value and the result is rescaled so the mean and variance stay the same.",
                      "y = a · (x · m + α′ · (1 − m)) + b,  m ~ Bernoulli(1 − p)",
                      "With SELU activations (and LeCun normal initialisation).",
                      "Combining it with ReLU or BatchNorm: use plain Dropout there."),
}
