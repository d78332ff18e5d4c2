"""The Evaluation panel's evaluation code now lives in `engine.evaluation`; this name stays for old imports."""

from engine.evaluation import MAX_IMAGES, EvaluationReport, evaluate_weights

__all__ = ["MAX_IMAGES", "EvaluationReport", "evaluate_weights"]
