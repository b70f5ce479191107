"""Two stages on two cores: the next block's sequential step runs while this block is finished.

An exact extraction must read the text in order, and the recurrence of one block (``nn.LSTM`` at
batch 1) leaves a second core idle on a CPU: a thread running one block ahead puts it to work on
everything that follows the recurrence (cell states, gates, predictions, summaries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

Item = TypeVar("Item")
Carry = TypeVar("Carry")
Result = TypeVar("Result")


# Largest hidden size whose recurrence runs as its own stage. Above it, nn.LSTM's per-step products
# gain more from all threads than the overlap gives: measured on 2 cores (benchmarks/extract.py,
# 2 layers), the two stages are 30 % faster at 128 units and 28 % at 256, but 4 % slower at 512.
MAX_HIDDEN = 256


def thread_split(device: torch.device, n_hidden: int, threads: int | None = None) -> tuple[int, int] | None:
    """(torch threads for the step run ahead, for the caller), or None to run in one thread.

    Only a CPU with two or more torch threads gains, for models up to :data:`MAX_HIDDEN` units: on
    a GPU the work is queued asynchronously anyway. torch's thread count is per thread, so the two
    stages share the cores without oversubscribing them.

    >>> cpu = torch.device("cpu")
    >>> thread_split(cpu, 256, threads=2), thread_split(cpu, 512, threads=2), thread_split(cpu, 256, 1)
    ((1, 1), None, None)
    """
    threads = torch.get_num_threads() if threads is None else threads
    if device.type != "cpu" or threads < 2 or n_hidden > MAX_HIDDEN:
        return None
    return threads // 2, threads - threads // 2


def run_ahead(
    step: Callable[[Item, Carry], tuple[Result, Carry]],
    items: Sequence[Item],
    carry: Carry,
    split: tuple[int, int] | None,
) -> Iterator[Result]:
    """Yield ``step(item, carry)``'s result for each item, ``carry`` passed from one to the next.

    With ``split``, item k + 1's step runs in a background thread while the caller works on item
    k's result, each side with its share of torch threads (restored when the iteration ends).
    An exception in a step is raised in the caller at that item.
    """
    if split is None or len(items) < 2:
        for item in items:
            result, carry = step(item, carry)
            yield result
        return
    ahead_threads, own_threads = split
    before = torch.get_num_threads()
    torch.set_num_threads(own_threads)
    try:
        with ThreadPoolExecutor(1, initializer=torch.set_num_threads, initargs=(ahead_threads,)) as pool:
            pending = pool.submit(step, items[0], carry)
            for k in range(len(items)):
                result, carry = pending.result()
                if k + 1 < len(items):
                    pending = pool.submit(step, items[k + 1], carry)
                yield result
    finally:
        torch.set_num_threads(before)
