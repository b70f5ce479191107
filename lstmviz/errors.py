"""Typed errors: the library raises these, the CLI turns them into one-line messages.

Every message names the problem and the fix, so a user never needs the traceback. Real bugs are
not wrapped in these and keep their traceback.
"""


class LstmvizError(Exception):
    """Base of every error a user can fix by changing their input."""


class TextError(LstmvizError):
    """The text file cannot be used: missing, empty, not UTF-8, or too short."""


class VocabError(LstmvizError):
    """Characters and vocabulary disagree, or no vocabulary can be found."""


class OptionError(LstmvizError):
    """A setting cannot work as given: temperature <= 0, unwritable output, mismatched resume."""


class CheckpointError(LstmvizError):
    """The checkpoint is not a char-LSTM lstmviz can load."""


class UnsupportedModelError(CheckpointError):
    """The checkpoint holds a recurrent model of a kind lstmviz does not handle (GRU, bidirectional)."""


class StoreError(LstmvizError):
    """An extraction file is missing, incomplete, damaged or of another format."""


class SchemaVersionError(StoreError):
    """An extraction file of a format version this lstmviz cannot read."""


class UnknownActivation(StoreError):
    """A neuron or activation name that the file does not hold."""


class SpanError(StoreError):
    """A span of positions [start, stop) that does not lie within the text (or holds no position)."""


class SearchError(LstmvizError):
    """A search cannot run as asked: bad pattern, no unit on over a span, hypothesis never true."""


# Errors of the Python API (:mod:`lstmviz.api`) that are also the builtin error Python code expects
# there, so ``except KeyError`` and ``except IndexError`` work as they do on a dict or an array.


class UnknownKey(UnknownActivation, KeyError):
    """A neuron or activation looked up by key (``ex["layer9.c.1"]``) that the file lacks."""

    __str__ = BaseException.__str__  # KeyError's own would put the message in quotes


class PositionOutOfRange(SpanError, IndexError):
    """Positions indexed outside the text, backwards, or with a step (``ex.text[0:10**9]``)."""


class UnitOutOfRange(UnknownActivation, IndexError):
    """A unit indexed past an activation's units (``ex["layer0.c"][0:10, 999]``)."""


class BadIndex(LstmvizError, TypeError):
    """An index of a type the views of an extraction do not take (a float, a list of positions)."""


class ExtractionClosed(StoreError, ValueError):
    """An extraction used after it was closed, as a closed Python file is."""


class ExtractionNotFound(StoreError, FileNotFoundError):
    """An extraction file that does not exist."""
