"""The extraction pass: run a model over a whole text and stream every activation into a store."""
