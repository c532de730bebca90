"""Using a trained model: loading it (checkpoint, run directory or export), predicting on
raw text, and exporting it as a self-contained folder."""
