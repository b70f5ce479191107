"""Re-running the model behind an extraction: edits inside the recurrence, causal scores, provenance."""
