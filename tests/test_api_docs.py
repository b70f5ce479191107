"""The examples of docs/api.md run, on the bundled model, and print what the page says they print."""

import doctest
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"


@pytest.mark.slow  # the bundled, real-size model
def test_the_examples_of_the_api_guide_run():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(API), module_relative=False, optionflags=flags)
    assert result.attempted > 25 and result.failed == 0
