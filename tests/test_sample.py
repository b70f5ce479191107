from collections import Counter

import pytest
import torch
from click.testing import CliRunner

from lstmviz.cli import cli
from lstmviz.errors import OptionError, VocabError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import load_model
from lstmviz.model.sample import generate, sample
from lstmviz.model.train import TrainConfig, train
from lstmviz.model.vocab import Vocab

LINE = "the cat sat on the mat.\n"


@pytest.fixture(scope="module")
def pattern_model(tmp_path_factory):
    """A tiny model trained on one repeated line: its most likely continuation is known."""
    folder = tmp_path_factory.mktemp("pattern")
    text = folder / "cat.txt"
    text.write_text(LINE * 120)
    out = folder / "cat.pt"
    train(text, out, TrainConfig(n_layer=1, n_hidden=32, n_embd=8, seq_len=24, batch_size=8,
                                 lr=1e-2, steps=150, eval_every=50), progress=False)
    return out


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(7)
    vocab = Vocab(tuple("abcdefgh \n"))
    return CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=2, n_hidden=24, n_embd=6)), vocab


def greedy(model, vocab, prime, n):
    """Argmax decoding written against the model's own nn.LSTM, step by step."""
    ids = [vocab.symbols.index(c) for c in prime]
    state, out = None, []
    with torch.no_grad():
        x = model.embed(torch.tensor([ids]))
        for _ in range(n):
            h, state = model.lstm(x, state)
            token = int(model.decoder(h[0, -1]).argmax())
            out.append(vocab.symbols[token])
            x = model.embed(torch.tensor([[token]]))
    return "".join(out)


def test_low_temperature_repeats_the_learned_pattern(pattern_model):
    loaded = load_model(pattern_model)
    text = sample(loaded.model, loaded.vocab, 2 * len(LINE), temperature=0.05, prime="the cat ",
                  seed=0)
    assert text == (LINE * 3)[len("the cat "):][:2 * len(LINE)]


def test_near_zero_temperature_is_greedy_decoding(random_model):
    model, vocab = random_model
    for seed in (0, 1):
        got = sample(model, vocab, 40, temperature=1e-4, prime="abc", seed=seed)
        assert got == greedy(model, vocab, "abc", 40)
    # so small that logits / temperature overflow to inf: still the most likely symbol each time
    assert sample(model, vocab, 40, temperature=1e-38, prime="abc", seed=0) == greedy(model, vocab, "abc", 40)
    assert sample(model, vocab, 40, top_k=1, prime="abc", seed=3) == greedy(model, vocab, "abc", 40)


def test_same_seed_same_text_other_seed_other_text(random_model):
    model, vocab = random_model
    first = sample(model, vocab, 200, temperature=1.0, seed=42)
    assert sample(model, vocab, 200, temperature=1.0, seed=42) == first
    assert sample(model, vocab, 200, temperature=1.0, seed=43) != first
    assert len(first) == 200 and set(first) <= set(vocab.symbols)


def test_high_temperature_is_more_diverse(pattern_model):
    loaded = load_model(pattern_model)

    def distinct_words(temperature):
        text = sample(loaded.model, loaded.vocab, 600, temperature=temperature, seed=5)
        return len(Counter(text.split()))

    assert distinct_words(0.3) < distinct_words(2.0)


def test_top_k_draws_only_among_the_k_most_likely(random_model):
    model, vocab = random_model
    with torch.no_grad():
        logits, _ = model(torch.tensor([[vocab.symbols.index("a")]]))
    top2 = {vocab.symbols[i] for i in logits[0, -1].topk(2).indices.tolist()}
    firsts = {sample(model, vocab, 1, temperature=5.0, top_k=2, prime="a", seed=s)
              for s in range(60)}
    assert firsts == top2


def test_byte_level_model_yields_whole_characters():
    vocab = Vocab(tuple(chr(b) for b in range(256)), byte_level=True)
    torch.manual_seed(0)
    model = CharLSTM(LSTMConfig(vocab_size=256, n_layer=1, n_hidden=16))
    pieces = list(generate(model, vocab, 300, prime="café ", seed=1))
    text = "".join(pieces)
    assert isinstance(text, str) and text == sample(model, vocab, 300, prime="café ", seed=1)
    # 300 random bytes: mostly broken UTF-8, each replaced by U+FFFD rather than raising
    assert 0 < len(text) <= 300


def test_errors_are_raised_before_generation(random_model):
    model, vocab = random_model
    with pytest.raises(OptionError, match=r"temperature must be above 0 \(got 0\)"):
        generate(model, vocab, 10, temperature=0)
    with pytest.raises(OptionError, match="--top-k must be at least 1"):
        generate(model, vocab, 10, top_k=0)
    with pytest.raises(VocabError, match=r"'Z'×2, 'Q'×1; remove them from --prime"):
        generate(model, vocab, 10, prime="aZZQ")


def run_sample(*args):
    return CliRunner().invoke(cli, ["sample", *map(str, args)])


def test_cli_prints_prime_then_sample_deterministically(pattern_model):
    result = run_sample(pattern_model, "-n", 30, "--prime", "the ", "--seed", 3, "-t", 0.5)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("the ") and len(result.output) == len("the ") + 30 + 1
    assert run_sample(pattern_model, "-n", 30, "--prime", "the ", "--seed", 3,
                      "-t", 0.5).output == result.output


def test_cli_errors(pattern_model, tmp_path):
    result = run_sample(pattern_model, "--temperature", 0)
    assert result.exit_code == 1
    assert result.output == ("Error: temperature must be above 0 (got 0.0); try 0.5 for safe "
                             "text, 1.0 for the model's own distribution\n")
    result = run_sample(pattern_model, "--prime", "My dear X")
    assert result.exit_code == 1
    assert result.output == ("Error: the prime has 5 character(s) the model's vocabulary lacks: "
                             "'M'×1, 'y'×1, 'd'×1, 'r'×1, 'X'×1; remove them from --prime\n")
    not_a_model = tmp_path / "x.pt"
    not_a_model.write_text("hello")
    assert run_sample(not_a_model).output.startswith(f"Error: {not_a_model}: not a PyTorch")


def test_help_explains_temperature_with_an_example():
    result = CliRunner().invoke(cli, ["sample", "--help"])
    assert "lstmviz sample austen.pt --temperature 0.5 -n 400 --prime" in result.output
    assert "conservative" in result.output and "mistakes" in result.output


def test_a_prime_read_through_the_unknown_symbol_says_so(caplog):
    torch.manual_seed(1)
    vocab = Vocab(tuple("ab \ufffd"), unknown="\ufffd")
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=1, n_hidden=8, n_embd=4))
    assert len(sample(model, vocab, 5, prime="ab ☃☃é", seed=0)) == 5
    assert "the prime has 3 character(s) the vocabulary lacks ('☃'×2, 'é'×1); the model reads its " \
           "unknown symbol '\ufffd' in their place" in caplog.text



def test_ctrl_c_while_sampling_exits_130(pattern_model, monkeypatch):
    import lstmviz.cli.training as commands

    def interrupted(*args, **kwargs):
        yield "the "
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "generate", interrupted)
    result = CliRunner().invoke(cli, ["sample", str(pattern_model), "-n", "50"])
    assert result.exit_code == 130 and result.stdout.startswith("the ")
    assert "Interrupted." in result.stderr
