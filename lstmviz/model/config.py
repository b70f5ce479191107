"""The shape of a char-LSTM, as checkpoints and extraction files record it.

Kept apart from the model (:mod:`lstmviz.model.charlstm`) so that reading an extraction file, which
records the shape, needs no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class LSTMConfig:
    """Shape of a :class:`~lstmviz.model.charlstm.CharLSTM`; stored in every checkpoint and extraction file.

    >>> LSTMConfig(vocab_size=65).n_hidden
    256
    """

    vocab_size: int
    n_layer: int = 2
    n_hidden: int = 256  # units per layer; the "unit" axis in every HDF5 dataset
    n_embd: int | None = 64  # None: one-hot input of width vocab_size
    dropout: float = 0.0
    lstm_bias: bool = True
    decoder_bias: bool = True

    @property
    def input_size(self) -> int:
        """Width of the LSTM's first-layer input."""
        return self.vocab_size if self.n_embd is None else self.n_embd

    def to_dict(self) -> dict:
        """Plain dict for checkpoints and HDF5 attributes."""
        return asdict(self)
