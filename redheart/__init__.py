"""Red Heart: a multi-task text model (emotion, Bentham, regret, SURD) and its training console.

`redheart.load(MODEL)` gives a trained model to run on text::

    import redheart
    model = redheart.load("runs/quickstart-20261201-120000")   # its best checkpoint
    [prediction] = model.predict(["I lied to my friend and she found out."])
    prediction["regret"], prediction.outputs["emotion"].value

The import is lazy, so `import redheart` (and the CLI's startup) stays free of torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redheart.inference.predictor import Predictor

__all__ = ["load"]


def load(model: str, device: str = "cpu", batch_size: int = 64,
         overrides: Any = (), show_all: bool = False) -> Predictor:
    """A checkpoint folder, `best`/`last` pointer, run directory or exported folder, loaded.

    `overrides` are `section.key=value` strings as with `--set` (for example
    `model.disabled=["regret_analyzer"]`); `show_all` keeps outputs no labelled
    row trained, marked `trained=False`.
    """
    from redheart.inference.predictor import load as load_predictor

    return load_predictor(model, device, batch_size, overrides, show_all)
