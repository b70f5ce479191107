"""The char-LSTM, and everything that builds, loads, runs, trains or samples one.

Its definition and vocabulary, checkpoints and the importers of other trainers' files, the exact
step-by-step runner, training and sampling.
"""
