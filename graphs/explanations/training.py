"""Explanations of the optimisers and learning-rate schedules a project's training settings can name.

`OPTIMIZER_NAMES` and `SCHEDULE_NAMES` mirror `engine.training.optim.OPTIMIZERS` and `SCHEDULES`
(a test keeps them equal) so the torch-free side can list and explain them."""

from __future__ import annotations

from graphs.explanations.base import E

OPTIMIZERS = {
    "SGD": E("Stochastic gradient descent: after each batch, every weight takes a step against its gradient. With "
             "momentum it keeps a running velocity, which smooths the steps and speeds up progress along "
             "consistent directions.",
             "v ← μ·v + g;  θ ← θ − lr·v   (g = ∇loss + weight_decay·θ; plain SGD when μ = 0)",
             "Well-tuned training of CNNs (lr 0.01-0.1, momentum 0.9), often with a schedule; it can "
             "generalise better than Adam.",
             "Using Adam's learning rate (1e-3) with plain SGD: it barely moves. Without momentum it is slow "
             "on ravines."),
    "Adam": E("Adapts a step size per weight from running averages of the gradient (first moment) and its "
              "square (second moment). It works well with little tuning.",
              "m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr·m̂ / (√v̂ + eps)",
              "The default to start with (lr 1e-3), for almost any model.",
              "Using weight_decay for regularisation: in Adam it is mixed into the adaptive gradient and acts "
              "weakly; use AdamW instead."),
    "AdamW": E("Adam with decoupled weight decay: the weights shrink directly each step instead of through the "
               "gradient, so regularisation works as intended.",
               "θ ← θ − lr·(m̂ / (√v̂ + eps) + weight_decay·θ)",
               "Transformers and any model where weight decay matters (weight_decay 0.01-0.1).",
               "Expecting the same weight_decay value as for Adam or SGD: AdamW's is much larger."),
    "RMSprop": E("Divides each gradient by a running root mean square of recent gradients, so weights with large "
                 "gradients take smaller steps.",
                 "v ← α·v + (1−α)·g²;  θ ← θ − lr·g / (√v + eps)",
                 "Recurrent networks and reinforcement learning; an older alternative to Adam.",
                 "Too high a learning rate (start near 1e-3)."),
}

SCHEDULES = {
    "none": E("Keeps the learning rate constant for the whole run.",
              "lr_t = lr",
              "Short runs and first experiments.",
              "Long runs: the loss often plateaus where a decaying rate would improve it."),
    "step": E("Multiplies the learning rate by gamma every step_size epochs: a staircase.",
              "lr_t = lr · gamma^⌊epoch / step_size⌋",
              "Classic CNN training (e.g. divide by 10 every 30 epochs).",
              "A step_size longer than the run, so the rate never drops."),
    "cosine": E("Lowers the learning rate from lr to eta_min along half a cosine over the run.",
                "lr_t = eta_min + ½(lr − eta_min)(1 + cos(π·t / T))",
                "A smooth decay with little tuning; common in modern training.",
                "Stopping early: the rate was still high and the model unfinished."),
    "one-cycle": E("Warms the learning rate up from max_lr / div_factor to max_lr over pct_start of the run, "
                   "then anneals it to a very small value; it steps after every batch.",
                   "lr rises to max_lr over pct_start·total steps, then falls to max_lr / (div_factor · "
                   "final_div_factor)",
                   "Fast training to good accuracy in few epochs ('super-convergence').",
                   "Choosing max_lr as the usual lr: it is the peak, usually 3-10x higher."),
}

OPTIMIZER_NAMES = tuple(OPTIMIZERS)
SCHEDULE_NAMES = tuple(name for name in SCHEDULES if name != "none")
