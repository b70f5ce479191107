"""Running a step one item ahead in a thread: same results, in order, errors where they belong."""

import threading

import pytest
import torch
from extraction_files import torch_threads

from lstmviz.extraction.two_stage import run_ahead, thread_split


def counting_step(seen):
    def step(item, carry):
        seen.append((item, threading.get_ident(), torch.get_num_threads()))
        return item * 10 + carry, carry + 1
    return step


@pytest.mark.parametrize("split", [None, (1, 1), (2, 1)])
def test_results_come_in_order_with_the_carry_passed_on(split):
    seen = []
    assert list(run_ahead(counting_step(seen), [1, 2, 3, 4], 0, split)) == [10, 21, 32, 43]
    assert [item for item, _, _ in seen] == [1, 2, 3, 4]
    elsewhere = {ident for _, ident, _ in seen} != {threading.get_ident()}
    assert elsewhere == (split is not None)
    if split is not None:
        assert {threads for _, _, threads in seen} == {split[0]}


def test_each_side_gets_its_threads_and_the_caller_gets_its_own_back():
    with torch_threads(2):
        inside = [torch.get_num_threads() for _ in run_ahead(counting_step([]), [1, 2, 3], 0, (1, 1))]
        assert inside == [1, 1, 1] and torch.get_num_threads() == 2
        ahead = run_ahead(counting_step([]), [1, 2, 3], 0, (1, 1))
        next(ahead)
        ahead.close()  # a caller that stops early
        assert torch.get_num_threads() == 2


def test_a_failing_step_raises_in_the_caller_at_its_item():
    def step(item, carry):
        if item == 3:
            raise ValueError("item 3 is bad")
        return item, carry

    got = []
    with pytest.raises(ValueError, match="item 3 is bad"):
        for result in run_ahead(step, [1, 2, 3, 4], None, (1, 1)):
            got.append(result)
    assert got == [1, 2]


def test_only_a_cpu_with_two_threads_splits_and_only_small_models():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert thread_split(cpu, 128, 2) == (1, 1) and thread_split(cpu, 128, 3) == (1, 2)
    assert thread_split(cpu, 256, 16) == (8, 8)
    assert thread_split(cpu, 128, 1) is None and thread_split(cuda, 128, 16) is None
    assert thread_split(cpu, 512, 2) is None
