"""Finding the LSTM layers in a state dict: one ``nn.LSTM``, LSTMCells, or a stack of LSTMs.

Training scripts hold the recurrence in three ways, all the same computation as one stacked
``nn.LSTM`` (same gate order i, f, g, o; layer k reads layer k-1's h):

- one ``nn.LSTM`` of any number of layers: ``weight_ih_l0``, ``weight_hh_l0``, ``weight_ih_l1`` …;
- ``nn.LSTMCell`` layers stepped in a loop (char-rnn reproductions): ``weight_ih``, ``weight_hh``,
  ``bias_ih``, ``bias_hh`` with no ``_l0`` suffix, in a ``ModuleList`` (``cells.0``, ``cells.1``)
  or under separate names (``cell1``, ``cell2``);
- separate one-layer ``nn.LSTM`` modules called one after the other (``lstm1``, ``lstm2``, or a
  ``ModuleList``).

A stack's order is read from the shapes: only the first layer may take an input other than the
hidden size (the embedding or one-hot width). Where shapes cannot tell (an embedding as wide as the
hidden size), the names decide, with numbers compared as numbers (``cells.10`` after ``cells.2``).
Every layer must have the same hidden size, since :class:`~lstmviz.model.charlstm.CharLSTM` is one
``nn.LSTM``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from lstmviz.errors import CheckpointError, UnsupportedModelError

_RNN_PARAM = re.compile(r"^(weight|bias)_(ih|hh|hr)(_l(?P<layer>\d+))?(?P<rev>_reverse)?$")
_GATE_KINDS = {4: "LSTM", 3: "GRU", 1: "RNN"}
_HANDLED = "lstmviz handles one nn.LSTM, or a stack of nn.LSTMCell or one-layer nn.LSTM modules"


def join(prefix: str, leaf: str) -> str:
    """A state-dict key: ``join("rnn", "weight_hh_l0")`` is ``rnn.weight_hh_l0``."""
    return f"{prefix}.{leaf}" if prefix else leaf


def where(prefix: str) -> str:
    """A module's place, for messages: ``'rnn'``, or ``the top level``."""
    return f"'{prefix}'" if prefix else "the top level"


def shape_text(t: torch.Tensor) -> str:
    """``64×16`` for a tensor's shape."""
    return "×".join(str(n) for n in t.shape) or "scalar"


def natural_key(name: str) -> list:
    """Sort key reading numbers as numbers, so ``cells.10`` comes after ``cells.2``.

    >>> sorted(["cells.10", "cells.2", "cell1"], key=natural_key)
    ['cell1', 'cells.2', 'cells.10']
    """
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", name))]


@dataclass(frozen=True)
class Recurrent:
    """One recurrent module's parameters, keyed by torch's own names (``weight_ih_l0`` …)."""

    prefix: str
    params: dict[str, torch.Tensor]

    @property
    def is_cell(self) -> bool:
        """An ``nn.LSTMCell`` (or another cell): its names carry no ``_l0``."""
        return "weight_hh" in self.params

    @property
    def hidden_size(self) -> int:
        """Units per layer (the projection's width with ``proj_size``)."""
        if "weight_hr_l0" in self.params:
            return self.params["weight_hr_l0"].shape[1]
        return self._hh.shape[1]

    @property
    def input_size(self) -> int:
        """Width of the first layer's input; 0 when ``weight_ih`` is missing or not a matrix."""
        ih = self.params.get("weight_ih" if self.is_cell else "weight_ih_l0")
        return ih.shape[1] if ih is not None and ih.dim() == 2 else 0

    @property
    def n_layers(self) -> int:
        """Layers the module holds: 1 for a cell."""
        found = [_RNN_PARAM.match(k)["layer"] for k in self.params]
        return 1 + max((int(n) for n in found if n is not None), default=0)

    @property
    def _hh(self) -> torch.Tensor:
        return self.params["weight_hh" if self.is_cell else "weight_hh_l0"]

    def describe(self) -> str:
        """'a bidirectional LSTM', 'a GRU', 'an LSTM with proj_size=16', 'an LSTMCell'."""
        kind = _GATE_KINDS.get(self._hh.shape[0] // self.hidden_size, "recurrent module")
        words = []
        if any(k.endswith("_reverse") for k in self.params):
            words.append("bidirectional")
        words.append(kind + ("Cell" if self.is_cell else ""))
        if "weight_hr_l0" in self.params:
            words.append(f"with proj_size={self.params['weight_hr_l0'].shape[0]}")
        text = " ".join(words)
        return ("an " if text[0] in "AEIOUaeiou" or text.startswith(("LSTM", "RNN")) else "a ") + text

    def is_lstm(self) -> bool:
        """A unidirectional ``nn.LSTM`` without ``proj_size``, or an ``nn.LSTMCell``."""
        return self.describe() in ("an LSTM", "an LSTMCell")


def recurrent_modules(tensors: Mapping[str, torch.Tensor]) -> list[Recurrent]:
    """Every module among ``tensors`` that owns a ``weight_hh_l0`` or ``weight_hh``."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        prefix, _, leaf = key.rpartition(".")
        if _RNN_PARAM.match(leaf):
            groups.setdefault(prefix, {})[leaf] = value
    found = []
    for prefix, params in groups.items():
        hh = params.get("weight_hh_l0", params.get("weight_hh"))
        if hh is not None and hh.dim() == 2 and min(hh.shape) > 0:
            found.append(Recurrent(prefix, params))
    return found


@dataclass(frozen=True)
class Layers:
    """The LSTM layers of a model, in the order they run, checked and ready for one ``nn.LSTM``."""

    modules: tuple[Recurrent, ...]  # one nn.LSTM, or one module per layer in layer order
    hidden_size: int
    input_size: int  # the first layer's input width
    bias: bool  # whether any layer has biases (layers without get zeros, which is exact)

    @property
    def n_layer(self) -> int:
        """Layers in all, as the rebuilt ``nn.LSTM`` will have them."""
        return sum(m.n_layers for m in self.modules)

    @property
    def is_stack(self) -> bool:
        """Whether the layers come from cells or separate modules rather than one ``nn.LSTM``."""
        return len(self.modules) > 1 or self.modules[0].is_cell

    def keys(self) -> set[str]:
        """Every state-dict key the layers use."""
        return {join(m.prefix, leaf) for m in self.modules for leaf in m.params}

    def stack(self) -> str:
        """How a stack was held, in words (``2 LSTMCell layers``); empty for one ``nn.LSTM``.

        >>> cell = Recurrent("cell", dict(torch.nn.LSTMCell(3, 4).named_parameters()))
        >>> Layers((cell, cell), 4, 3, True).stack()
        '2 LSTMCell layers'
        """
        if not self.is_stack:
            return ""
        n_cells = sum(m.is_cell for m in self.modules)
        n_lstms = len(self.modules) - n_cells
        cells = f"{n_cells} LSTMCell layer{'s' * (n_cells != 1)}"
        lstms = f"{n_lstms} one-layer nn.LSTM module{'s' * (n_lstms != 1)}"
        if not n_lstms:
            return cells
        if not n_cells:
            return lstms
        return f"{len(self.modules)} layers: {n_lstms} one-layer nn.LSTM and {n_cells} LSTMCell"

    def describe(self) -> str:
        """'an LSTM at 'rnn'', or '2 LSTMCell layers at 'cells.0', 'cells.1''."""
        if not self.is_stack:
            return f"{self.modules[0].describe()} at {where(self.modules[0].prefix)}"
        return f"{self.stack()} at {', '.join(where(m.prefix) for m in self.modules)}"

    def state(self) -> dict[str, torch.Tensor]:
        """The weights as ``nn.LSTM`` names them (``weight_ih_l0`` …), one entry per layer."""
        out: dict[str, torch.Tensor] = {}
        layer = 0
        for m in self.modules:
            for own in range(m.n_layers):
                suffix = "" if m.is_cell else f"_l{own}"
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    value = m.params.get(name + suffix)
                    if value is None and self.bias and name.startswith("bias"):
                        value = torch.zeros(4 * self.hidden_size)  # no bias adds nothing
                    if value is not None:
                        out[f"{name}_l{layer}"] = value
                layer += 1
        return out


def _check(rnn: Recurrent, where_file: str) -> None:
    """Every shape of a plain LSTM or LSTMCell, so a damaged file is named rather than misread."""
    p = rnn.params
    H = rnn.hidden_size
    n_in = rnn.input_size
    kind = "LSTMCell" if rnn.is_cell else "LSTM"
    suffixes = [""] if rnn.is_cell else [f"_l{k}" for k in range(rnn.n_layers)]
    has_bias = f"bias_ih{suffixes[0]}" in p
    expected: dict[str, tuple[int, ...]] = {}
    for k, suffix in enumerate(suffixes):
        expected[f"weight_ih{suffix}"] = (4 * H, n_in if k == 0 else H)
        expected[f"weight_hh{suffix}"] = (4 * H, H)
        if has_bias:
            expected[f"bias_ih{suffix}"] = expected[f"bias_hh{suffix}"] = (4 * H,)
    for name, shape in expected.items():
        if name not in p or tuple(p[name].shape) != shape:
            found = shape_text(p[name]) if name in p else "missing"
            raise CheckpointError(
                f"{where_file}: the {kind} at {where(rnn.prefix)} is inconsistent: {name} is {found}, "
                f"expected {'×'.join(map(str, shape))}; the checkpoint may be damaged"
            )
    if set(p) != set(expected):
        extra = ", ".join(sorted(set(p) - set(expected)))
        raise CheckpointError(
            f"{where_file}: the {kind} at {where(rnn.prefix)} has unexpected {extra}; "
            "the checkpoint may be damaged"
        )


def _listing(rnns: list[Recurrent]) -> str:
    return ", ".join(
        f"{r.describe()}{f' of {r.n_layers} layers' if r.n_layers > 1 else ''} at {where(r.prefix)}"
        for r in rnns
    )


def _stack_order(rnns: list[Recurrent], where_file: str) -> list[Recurrent]:
    """The layers of a stack in the order they run: the shape chain first, then the names."""
    rnns = sorted(rnns, key=lambda r: natural_key(r.prefix))
    sizes = {r.hidden_size for r in rnns}
    if len(sizes) > 1:
        listed = ", ".join(f"{where(r.prefix)} {r.hidden_size}" for r in rnns)
        raise UnsupportedModelError(
            f"{where_file}: the LSTM layers have different hidden sizes ({listed}); lstmviz handles "
            "stacks whose layers share one hidden size, as one nn.LSTM does"
        )
    H = sizes.pop()
    firsts = [r for r in rnns if r.input_size != H]
    if len(firsts) > 1:
        takes = " and ".join(f"{where(r.prefix)} {r.input_size}" for r in firsts)
        raise UnsupportedModelError(
            f"{where_file}: found {len(rnns)} recurrent modules ({_listing(rnns)}) that do not form "
            f"one stack: only the first layer may take inputs other than {H} wide (the hidden size), "
            f"but {takes} wide do; {_HANDLED}"
        )
    return firsts + [r for r in rnns if r not in firsts]


def find_layers(tensors: Mapping[str, torch.Tensor], where_file: str) -> Layers:
    """The LSTM layers among a state dict's tensors, checked, in the order they run.

    Args:
        tensors: a flat state dict of tensors.
        where_file: the file's name, for messages.

    Raises:
        CheckpointError: no recurrent module, or one with inconsistent shapes.
        UnsupportedModelError: a GRU, vanilla RNN, bidirectional LSTM or ``proj_size``; several
            modules that are not one-layer LSTMs or cells, or that do not chain, or whose hidden
            sizes differ.

    >>> net = torch.nn.ModuleDict({"lstm1": torch.nn.LSTM(3, 5), "lstm2": torch.nn.LSTM(5, 5)})
    >>> layers = find_layers(net.state_dict(), "m.pt")
    >>> [m.prefix for m in layers.modules], layers.stack()
    (['lstm1', 'lstm2'], '2 one-layer nn.LSTM modules')
    """
    rnns = recurrent_modules(tensors)
    if not rnns:
        sample = ", ".join(f"{k} ({shape_text(v)})" for k, v in list(tensors.items())[:4])
        raise CheckpointError(
            f"{where_file}: not a char-LSTM: no nn.LSTM among its {len(tensors)} tensors (e.g. "
            f"{sample}); lstmviz needs weights with weight_ih_l0/weight_hh_l0 from an nn.LSTM"
        )
    if len(rnns) == 1 and not rnns[0].is_lstm():
        raise UnsupportedModelError(
            f"{where_file}: found {rnns[0].describe()} at {where(rnns[0].prefix)}; lstmviz handles "
            "only unidirectional nn.LSTM layers without proj_size"
        )
    if len(rnns) > 1 and not all(r.is_lstm() and r.n_layers == 1 for r in rnns):
        raise UnsupportedModelError(
            f"{where_file}: found {len(rnns)} recurrent modules ({_listing(rnns)}); {_HANDLED}"
        )
    for rnn in rnns:
        _check(rnn, where_file)
    ordered = _stack_order(rnns, where_file) if len(rnns) > 1 else rnns
    bias = any("bias_ih" in k for m in ordered for k in m.params)
    return Layers(tuple(ordered), ordered[0].hidden_size, ordered[0].input_size, bias)
