"""Explanations of the tensor and arithmetic node types."""

from __future__ import annotations

from graphs.explanations.base import E


def _binary(what: str, formula: str, when: str, mistake: str = "Shapes that do not broadcast: each dim must be "
            "equal, or 1 in one of them."):
    return E(what + " Shapes broadcast as in torch.", formula, when, mistake)


def _reduction(word: str, formula: str, when: str):
    return E(f"Takes the {word} over the dims listed in dim; keepdim keeps them with size 1.",
             formula, when, "Reducing over the batch dim (0): every sample then gets the same value.")


EXPLANATIONS = {
    "Parameter": E("A trained tensor that is the same for every sample, with no input: a class token, a learned "
                   "bias map or a positional embedding.",
                   "y = W (broadcast over the batch),  W initialised by init",
                   "Learned constants a graph needs, e.g. ViT's class token.",
                   "A large init std, which makes early training unstable."),
    "Subtract": _binary("Subtracts other from input, element by element.", "y = input − other",
                        "Differences and residuals (prediction minus baseline)."),
    "Divide": _binary("Divides input by other, element by element.", "y = input / other",
                      "Normalising by a computed scale.",
                      "Dividing by values that can be zero; add a small eps first."),
    "Maximum": _binary("The element-wise larger of input and other.", "y = max(input, other)",
                       "Combining two branches by taking the stronger response."),
    "Minimum": _binary("The element-wise smaller of input and other.", "y = min(input, other)",
                       "Clipping one branch by another."),
    "MatMul": E("The matrix product over the last two dims, batched over the others.",
                "y = input @ other,  [.., n, k] @ [.., k, m] → [.., n, m]",
                "Hand-built attention (Q Kᵀ) and bilinear forms.",
                "Inner dims that differ (k must match); a Transpose is often missing."),
    "Scale": E("Multiplies by a constant and adds a constant; nothing is trained.",
               "y = scale · x + bias",
               "Fixed rescaling, e.g. mapping [0, 1] to [−1, 1] (scale 2, bias −1).",
               "Expecting the constants to be learned: use Linear or Parameter for that."),
    "Exp": E("The exponential of each element; always positive.", "y = eˣ",
             "Turning a log-variance or log-rate into a positive value.",
             "Large inputs overflow to inf; Softplus grows more gently."),
    "Log": E("The natural logarithm of each element.", "y = ln x",
             "Log-scaling positive features or probabilities.",
             "Inputs ≤ 0 give −inf or NaN; add a small eps or use LogSoftmax / LogSigmoid."),
    "Sqrt": E("The square root of each element.", "y = √x",
              "Turning a variance into a standard deviation.",
              "Negative inputs give NaN, and the gradient at 0 is infinite."),
    "Abs": E("The absolute value of each element.", "y = |x|",
             "Magnitudes, and L1-style penalties built by hand.",
             "Its gradient at exactly 0 is 0 in torch."),
    "Pow": E("Raises each element to a constant exponent.", "y = x^exponent",
             "Squares for energies or penalties (exponent 2).",
             "Fractional exponents of negative inputs give NaN."),
    "Clamp": E("Limits each element to [min, max] (or one side only).", "y = min(max(x, min), max)",
               "Keeping values in a valid range, e.g. a log-variance.",
               "Clamped values have zero gradient, so a unit stuck at the bound stops learning."),
    "Mean": _reduction("mean", "y = (1/n) Σ_dim x", "Global average over positions (a sequence's mean vector)."),
    "Sum": _reduction("sum", "y = Σ_dim x", "Pooling counts or energies; attention-weighted sums."),
    "Max": _reduction("maximum", "y = max_dim x", "Max-over-time pooling of a sequence."),
    "Min": _reduction("minimum", "y = min_dim x", "Finding the smallest response over positions."),
    "ToDtype": E("Casts every element to another element type: float32 to int64 cuts off the fraction (toward "
                 "zero), int64 to float32 gives the same whole numbers as floats. Nothing is trained, and no "
                 "gradient flows through a cast to int64.",
                 "y = x.to(dtype)",
                 "Integer codes of a categorical column, read as floats from a CSV, picked out with Select or "
                 "Slice and cast to int64 for an Embedding.",
                 "Casting a value that is not a whole number (a standardised column): it is cut toward zero. "
                 "Keep the codes column out of standardisation."),
    "Sample": E("The reparameterisation trick of a variational autoencoder: draws a sample from a normal "
                "distribution with the given mean and log-variance, in a way that gradients can flow through. In "
                "evaluation it returns the mean.",
                "z = mean + exp(0.5 · logvar) · ε,  ε ~ N(0, 1)",
                "A VAE's latent layer, with a KL term (KLDivLoss or a hand-built loss) on mean and logvar.",
                "Feeding the standard deviation instead of the log-variance into logvar."),
}
