"""Explanations of the sequence, shape-and-merge, resampling and padding node types."""

from __future__ import annotations

from graphs.explanations.base import E

_RNN_MISTAKE = ("Feeding [features, T] instead of [T, features] (inputs are batch first, time next), or taking "
                "output 'sequence' into a classifier head that wants one vector per sample ('last').")


def _transformer(stack: bool, decoder: bool):
    what = ("One Transformer " if not stack else "A stack of num_layers Transformer ") + \
        ("decoder layer" if decoder else "encoder layer") + ("s" if stack else "") + \
        ": multi-head self-attention" + (", attention to the encoder's memory," if decoder else "") + \
        " and a two-layer feed-forward network, each with a residual connection and LayerNorm."
    formula = ("x = x + SelfAttn(x);  " + ("x = x + CrossAttn(x, memory);  " if decoder else "") +
               "x = x + FFN(x)  (each sub-block LayerNorm-ed, before if norm_first)")
    when = ("Sequence-to-sequence models (translation, captioning), after an encoder." if decoder else
            "Sequences where any position may depend on any other: text, time series, image patches (ViT).")
    mistake = ("Leaving out a positional encoding: attention alone does not know the order. Also d_model must "
               "be divisible by nhead.")
    return E(what, formula, when, mistake)


def _pad(kind: str, n: int):
    layout = {1: "[C, L]", 2: "[C, H, W]"}[n]
    how = {"Zero": "zeros", "Constant": "a constant value", "Reflection": "the mirror image of the input at its "
           "border (without repeating the edge)", "Replication": "copies of the border values"}[kind]
    mistake = {"Reflection": "Padding by as much as the input's size or more: reflection needs padding < size.",
               "Constant": "Padding images with a value that is not the background after normalisation.",
               "Zero": "Padding the channels instead of the spatial dims: it pads the last dims only.",
               "Replication": "Expecting it to add information: the border is only repeated."}[kind]
    return E(f"Adds padding to the last {n} dimension(s) of {layout}, filling it with {how}. The padding is "
             "(left, right" + (", top, bottom" if n == 2 else "") + ").",
             "out = in + left + right" + ("  (and + top + bottom for H)" if n == 2 else ""),
             "Before a convolution or pooling that should keep the size, or to make sizes match before "
             "a merge.", mistake)


EXPLANATIONS = {
    "LSTM": E("A recurrent layer that reads a sequence step by step and keeps a memory cell, with gates that decide "
              "what to forget, what to store and what to output. The gates let it remember over long spans.",
              "i,f,g,o = σ,σ,tanh,σ(W x_t + U h_{t−1} + b);  c_t = f⊙c_{t−1} + i⊙g;  h_t = o⊙tanh(c_t)",
              "Ordered data of modest length: text, sensor readings, time series, rows of an image.",
              _RNN_MISTAKE),
    "GRU": E("A recurrent layer like the LSTM but simpler: an update gate and a reset gate and no separate memory "
             "cell. It often trains as well with fewer weights.",
             "z,r = σ(W x_t + U h_{t−1});  n = tanh(W x_t + r⊙(U h_{t−1}));  h_t = (1 − z)⊙n + z⊙h_{t−1}",
             "The same as the LSTM, when speed or size matters.", _RNN_MISTAKE),
    "RNN": E("The plain (Elman) recurrent layer: the hidden state is updated from the previous state and the "
             "current input through one nonlinearity. It forgets quickly and its gradients vanish or explode "
             "over long sequences.",
             "h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)",
             "Teaching and short sequences; prefer LSTM or GRU for real work.",
             "Long sequences with nonlinearity 'relu': the state can explode."),
    "TransformerEncoderLayer": _transformer(False, False),
    "TransformerEncoder": _transformer(True, False),
    "TransformerDecoderLayer": _transformer(False, True),
    "TransformerDecoder": _transformer(True, True),
    "MultiheadAttention": E("Self-attention: every position builds a query, a key and a value; each output is the "
                            "values averaged with weights from how well its query matches every key. num_heads "
                            "attention maps run in parallel on slices of the features.",
                            "Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V,  Q, K, V = x W_Q, x W_K, x W_V",
                            "When an output position may depend on any other position in the sequence.",
                            "embed_dim not divisible by num_heads, or forgetting 'causal' when predicting the "
                            "next token (the model then sees the future)."),
    "LearnedPositionalEncoding": E("Adds a trained vector per position to the sequence so attention can tell "
                                   "positions apart. Positions beyond max_len are not known.",
                                   "y[t] = x[t] + W[t],  W ∈ ℝ^(max_len × E)",
                                   "Before attention layers, for sequences of a bounded length (ViT patches).",
                                   "Sequences longer than max_len at prediction time."),
    "SinusoidalPositionalEncoding": E("Adds a fixed pattern of sines and cosines of different frequencies to each "
                                      "position, so attention can tell positions apart. Nothing is trained.",
                                      "PE[t, 2i] = sin(t / 10000^(2i/E)),  PE[t, 2i+1] = cos(t / 10000^(2i/E))",
                                      "Before attention layers, as in the original Transformer.",
                                      "An odd embedding size E: the sines and cosines need it even."),
    "Flatten": E("Joins dimensions start_dim..end_dim into one, keeping the values in order. The default turns "
                 "each sample [C, H, W] into a vector [C·H·W].",
                 "[N, C, H, W] → [N, C·H·W]  (start_dim 1, end_dim −1)",
                 "Between convolutional layers and a Linear head.",
                 "start_dim 0, which merges the batch into the features."),
    "Reshape": E("Gives each sample a new shape with the same number of values, in the same order. One entry may "
                 "be −1 and is then inferred.",
                 "x.reshape(N, *shape),  Π shape = Π input shape",
                 "Turning a vector back into an image or sequence, e.g. in a decoder.",
                 "Using Reshape to swap dimensions: it reorders nothing; use Permute or Transpose."),
    "Permute": E("Reorders the dimensions of a tensor; the values move with them. The batch (dim 0) stays first.",
                 "y = x.permute(*dims)",
                 "Switching between layouts such as [T, C] and [C, T] (RNN to Conv1d).",
                 "Confusing it with Reshape, which keeps the memory order and so scrambles the data."),
    "Concat": E("Joins its inputs along dim. All other dimensions must be the same.",
                "y = cat([x₀, x₁, …], dim)",
                "Merging branches (Inception, U-Net skip connections, several input features).",
                "Counting dim without the batch: dim 1 is the channel dim of [N, C, H, W]."),
    "Add": E("Adds its inputs element by element, broadcasting dims of size 1.",
             "y = x₀ + x₁ + …",
             "Residual (skip) connections: y = x + F(x).",
             "Adding tensors whose channel counts differ; a 1x1 Conv on the shortcut makes them match."),
    "Multiply": E("Multiplies its inputs element by element, broadcasting dims of size 1.",
                  "y = x₀ ⊙ x₁ ⊙ …",
                  "Gating and attention masks (squeeze-and-excitation: x ⊙ sigmoid(...)).",
                  "Expecting a matrix product: use MatMul for that."),
    "Unflatten": E("Splits one dimension into several whose product is its size.",
                   "[N, C·H·W] → [N, C, H, W]  (dim 1, unflattened_size [C, H, W])",
                   "Turning a vector into an image or sequence (a decoder's first layer).",
                   "A product of unflattened_size that differs from the dim's size."),
    "Squeeze": E("Removes dimension dim if its size is 1; otherwise leaves the tensor unchanged.",
                 "[N, 1, L] → [N, L]  (dim 1)",
                 "After a pooling to size 1 or an output of one unit.",
                 "Squeezing dim 0 (the batch): with a batch of one it disappears."),
    "Unsqueeze": E("Inserts a new dimension of size 1 at dim.",
                   "[N, L] → [N, 1, L]  (dim 1)",
                   "Adding a channel dim before a convolution, or a dim to broadcast against.",
                   "Counting dim without the batch."),
    "Transpose": E("Swaps two dimensions.",
                   "y = x.transpose(dim, dim1)",
                   "[T, C] ↔ [C, T] between recurrent and convolutional layers; Kᵀ in attention.",
                   "Swapping the batch dim (0) by accident."),
    "Expand": E("Repeats dimensions of size 1 to a larger size without copying memory.",
                "[N, 1, E] → [N, T, E]  (size [T, E])",
                "Broadcasting a per-sample vector over a sequence before Concat.",
                "Expanding a dim whose size is not 1: only size-1 dims can grow."),
    "Split": E("Cuts the input along dim into pieces of the given sizes; each piece is one output.",
               "outputs = x.split(split_size_or_sections, dim)",
               "Separating heads of a shared layer (mean and log-variance in a VAE).",
               "Sizes that do not add up to the dim's size."),
    "Chunk": E("Cuts the input along dim into `chunks` pieces of equal size; each piece is one output.",
               "outputs = x.chunk(chunks, dim)",
               "Splitting a doubled layer into two halves (gates, mean/log-variance).",
               "A dim size not divisible by chunks: the last piece is smaller."),
    "Select": E("Takes one index along dim; that dimension disappears.",
                "y = x.select(dim, index)  (x[:, index] for dim 1)",
                "Taking the last time step of an RNN (index −1) or a class token (index 0).",
                "Selecting along the batch dim."),
    "Slice": E("Keeps positions start:end:step along dim.",
               "y = x[:, start:end:step]  (along dim)",
               "Cropping sequences or feature maps, e.g. to align a U-Net's skip connection.",
               "Forgetting that end is exclusive."),
    "Stack": E("Stacks inputs of the same shape along a new dimension.",
               "y = stack([x₀, x₁, …], dim)",
               "Combining parallel outputs into one tensor (e.g. several heads).",
               "Using it where Concat is meant: Stack adds a dimension, Concat does not."),
    "Upsample": E("Resizes a signal, image or volume to a given size or by scale_factor, interpolating between "
                  "values. It has no weights.",
                  "out = ⌊in · scale_factor⌋;  'nearest' copies, 'bilinear' interpolates linearly",
                  "Decoders and U-Nets, often followed by a Conv (smoother than ConvTranspose).",
                  "'bilinear' on [C, L] or 'linear' on [C, H, W]: the mode must fit the number of spatial dims."),
    "PixelShuffle": E("Rearranges channels into space: groups of r² channels become r×r blocks of pixels.",
                      "[C·r², H, W] → [C, H·r, W·r]",
                      "Sub-pixel convolution for super-resolution: Conv to C·r² channels, then PixelShuffle.",
                      "A channel count that is not a multiple of r²."),
    "PixelUnshuffle": E("The inverse of PixelShuffle: each r×r block of pixels becomes r² channels.",
                        "[C, H·r, W·r] → [C·r², H, W]",
                        "Downsampling without losing information, before convolutions.",
                        "H or W not divisible by r."),
    **{f"{kind}Pad{n}d": _pad(kind, n) for kind in ("Zero", "Constant", "Reflection", "Replication") for n in (1, 2)},
}
