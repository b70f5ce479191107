"""Breadth-first walks over the containers a checkpoint holds: dicts, lists, plain objects.

Weights, vocabularies and settings sit at any depth (``ckpt["config"]["vocab"]``,
``model.chars``), so finders look at every node, shallowest first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

MAX_DEPTH = 4
MAX_LIST = 64  # longer lists are data (token ids, losses), not containers of parts
_LEAVES = (torch.Tensor, str, bytes, bytearray, int, float, bool, type(None))


def children(obj: Any, first: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """(key, value) pairs inside a dict, list, tuple or plain object; keys in ``first`` lead.

    >>> [k for k, _ in children({"epoch": 3, "model": {}}, first=("model",))]
    ['model', 'epoch']
    """
    if isinstance(obj, _LEAVES) or isinstance(obj, type):
        return []
    if isinstance(obj, Mapping):
        items = [(str(k), v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(obj)] if len(obj) <= MAX_LIST else []
    elif isinstance(getattr(obj, "__dict__", None), dict):
        items = [(k, v) for k, v in vars(obj).items() if not k.startswith("__")]
    else:
        return []
    rank = {k: i for i, k in enumerate(first)}
    return sorted(items, key=lambda kv: rank.get(kv[0].lower(), len(rank)))


def walk(
    obj: Any,
    *,
    first: tuple[str, ...] = (),
    descend: Callable[[Any], bool] = lambda node: True,
    max_depth: int = MAX_DEPTH,
) -> Iterator[tuple[str, Any]]:
    """Every (dotted path, node) under ``obj``, shallowest first, each node once.

    Args:
        obj: the root; yielded with path ``""``.
        first: keys visited before their siblings.
        descend: whether to look inside a node.
        max_depth: how deep to look.

    >>> [p for p, _ in walk({"a": {"b": 1}, "c": [2]})]
    ['', 'a', 'c', 'a.b', 'c.0']
    """
    queue: deque[tuple[str, Any, int]] = deque([("", obj, 0)])
    seen: set[int] = set()
    while queue:
        path, node, depth = queue.popleft()
        if not isinstance(node, _LEAVES):
            if id(node) in seen:
                continue
            seen.add(id(node))
        yield path, node
        if depth < max_depth and descend(node):
            queue.extend(
                (f"{path}.{k}" if path else k, v, depth + 1) for k, v in children(node, first)
            )
