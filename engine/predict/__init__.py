"""Run a trained model on new inputs, preprocessed exactly as its training data was.

The `predict` command, the workbench's "Try it" panel and the benchmark share this:

    predictor = Predictor.load(project, "runs/x/weights.safetensors")
    for batch in predictor.batches(["photos/", "cat.png"]):        # or texts=..., rows from a CSV
        for prediction in predictor.predict(batch, top_k=3):
            print(prediction.label, prediction.top_k)

The weights file's metadata says how raw inputs become model inputs ("preprocessing",
"normalization", "class_names"; see `engine.training.run_folder`). The raw inputs are
turned into tensors by the data sources' own functions (`engine.data.images.prepare_image_files`,
`engine.data.text.encode_texts`, `engine.data.audio.prepare_audio_files`,
`engine.data.tabular.prepare_rows`), so prediction never drifts from training. Every
problem with the inputs or the weights is a `UserError` naming the file (and line).
"""

from engine.predict.inputs import Batch, InputKind
from engine.predict.predictor import Prediction, Predictor, row_columns, typed_input

__all__ = ["Batch", "InputKind", "Prediction", "Predictor", "row_columns", "typed_input"]
