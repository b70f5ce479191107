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
