"""The character-level LSTM every checkpoint is rebuilt into.

input (embedding, or one-hot when ``n_embd`` is None) -> stacked unidirectional ``nn.LSTM`` ->
linear decoder to the vocabulary. Keeping one concrete class means extraction, training and
sampling never care which script a checkpoint came from.
"""

from __future__ import annotations

import torch
from torch import nn

from lstmviz.model.config import LSTMConfig


class CharLSTM(nn.Module):
    """Embedding (or one-hot) -> ``nn.LSTM`` -> decoder.

    >>> m = CharLSTM(LSTMConfig(vocab_size=5, n_layer=1, n_hidden=8))
    >>> logits, state = m(torch.zeros(2, 3, dtype=torch.long))
    >>> tuple(logits.shape)
    (2, 3, 5)
    """

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.n_embd) if config.n_embd else None
        self.lstm = nn.LSTM(
            config.input_size,
            config.n_hidden,
            num_layers=config.n_layer,
            bias=config.lstm_bias,
            batch_first=True,
            dropout=config.dropout if config.n_layer > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.n_hidden, config.vocab_size, bias=config.decoder_bias)

    def inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """First-layer LSTM input for token ids (B, T) -> (B, T, E)."""
        if self.embed is not None:
            return self.embed(tokens)
        return nn.functional.one_hot(tokens, self.config.vocab_size).to(self.decoder.weight.dtype)

    def forward(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits (B, T, V) and the final ``(h, c)``, each (n_layer, B, H)."""
        out, state = self.lstm(self.inputs(tokens), state)  # (B, T, H)
        return self.decoder(self.drop(out)), state
