"""The encoder never hands out an id that is not in the vocabulary: under --unknown error it raises."""

from collections import Counter

import pytest

from lstmviz.errors import VocabError
from lstmviz.model.encoding import Encoder, UnknownCharacters, UnknownPolicy, scan_text
from lstmviz.model.vocab import Vocab

VOCAB = Vocab.from_text("abc ")


@pytest.mark.parametrize("policy", ["error", "auto"])  # auto is error for a vocabulary without <unk>
def test_unknown_characters_under_the_error_policy_raise_a_typed_error(policy):
    encoder = Encoder(VOCAB, UnknownPolicy.parse(policy))
    with pytest.raises(UnknownCharacters) as raised:
        encoder.encode("abc!é!")
    assert isinstance(raised.value, VocabError)
    assert raised.value.lacking == Counter({"!": 2, "é": 1})
    assert str(raised.value) == ("the text has 3 character(s) the model's vocabulary lacks: '!'×2, 'é'×1; "
                                 "use --unknown skip or --unknown replace:<char>, or a model trained on such "
                                 "text")
    ids, lacking = encoder.encode("cab a")
    assert ids.tolist() == [3, 1, 2, 0, 1] and lacking == Counter()  # VOCAB symbols: ' ', 'a', 'b', 'c'


def test_other_policies_give_only_ids_of_the_vocabulary():
    skip = Encoder(VOCAB, UnknownPolicy.parse("skip")).encode("a!b")
    assert skip[0].tolist() == [1, 2] and skip[1] == Counter("!")
    replace = Encoder(VOCAB, UnknownPolicy.parse("replace: ")).encode("a!b")
    assert replace[0].tolist() == [1, 0, 2]


def test_a_scan_lists_every_unknown_character_of_the_whole_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("ab!" * 10 + "c?" * 5)
    with pytest.raises(UnknownCharacters) as raised:
        scan_text(path, Encoder(VOCAB, UnknownPolicy.parse("error")))  # read in pieces of 1 MB
    assert raised.value.lacking == Counter({"!": 10, "?": 5})
