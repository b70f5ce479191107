"""``lstmviz search`` on real extractions of the planted model."""

import json

import pytest
from click.testing import CliRunner
from search_models import AUSTEN, PYTHON, QUOTE, shared_file

from lstmviz.cli import cli


@pytest.fixture(scope="module")
def austen(tmp_path_factory):
    """A private copy: the CLI writes its cache beside the file."""
    path = tmp_path_factory.mktemp("cli") / "austen.h5"
    path.write_bytes(shared_file("planted", "austen").read_bytes())
    return path


@pytest.fixture(scope="module")
def python_file():
    return shared_file("planted", "python")


def run(*args):
    return CliRunner().invoke(cli, ["search", *map(str, args)])


def test_hypothesis_table_shows_the_quote_cell_first(austen):
    result = run(austen, "--hypothesis", "quote", "--top", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("hypothesis: quote - inside double quotes")
    assert lines[3].startswith("baseline:")
    header = lines[5].split()
    assert header[:5] == ["rank", "neuron", "score", "direction", "null"]
    first = lines[6].split()
    assert first[0] == "1" and first[1] in {f"layer0.c.{QUOTE}", f"layer0.h.{QUOTE}"} and first[2] == "1.000"
    assert len(lines) == 9


def test_json_output_and_layer_kind_filters(austen):
    result = run(austen, "--hypothesis", "quote", "--top", "2", "--layer", "0", "--kind", "c", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hypothesis"] == "quote" and data["measure"] == "AUROC"
    assert [u["neuron"] for u in data["units"]][0] == f"layer0.c.{QUOTE}"
    assert all(u["kind"] == "c" for u in data["units"]) and len(data["units"]) == 2
    assert data["baseline"] >= data["null_best"]


def test_pattern_search(python_file):
    result = run(python_file, "--pattern", r"\(", "--top", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hypothesis"] == r"pattern \(" and data["n_inside"] == PYTHON.count("(")


def test_all_lists_each_builtin_and_the_skipped(python_file):
    result = run(python_file, "--all")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "skipped (the same everywhere in this text): url, wikilink, template" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert rows["column"][1] in {"layer0.c.3", "layer0.h.3"} and rows["column"][3] == "1.000"


def test_span_search_by_example(austen):
    start = AUSTEN.index('"Is not this song')
    stop = AUSTEN.index('"', start + 1)
    result = run(austen, "--span", f"{start}:{stop}", "--kind", "c", "--top", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "layer0.c" and [u["neuron"] for u in data["units"]] == [f"layer0.c.{QUOTE}"]
    assert len(data["matches"]) == 3 and data["n_matches"] > 50
    text = run(austen, "--span", f"{start}:{stop}", "--kind", "c", "--top", "3").stdout
    assert "threshold:" in text and "matches:" in text and "'\"" in text
    loose = json.loads(run(austen, "--span", f"{start}:{stop}", "--min-on", "0.5", "--json").stdout)
    assert loose["n_matches"] >= 1


@pytest.mark.parametrize(("args", "message"), [
    (["--hypothesis", "url"], "Error: hypothesis 'url' is never true in this text"),
    (["--hypothesis", "quote", "--layer", "4"], "Error: no layer 4 in austen.h5 (layers: 0..0)"),
    (["--pattern", "("], "Error: the pattern '(' is not a valid regular expression"),
    (["--pattern", ""], "Error: the pattern is empty; give a regular expression"),
    (["--pattern", "^"], "Error: hypothesis 'pattern ^' is never true in this text (matches of no "
                         "characters, such as ^ or \\b, mark no position)"),
    (["--span", "5:2"], "Error: span 5:2 is not within the text"),
    (["--span", "0:5", "--threshold", "5"], "Error: no unit of layer0.h is on throughout 0:5"),
    (["--all", "--device", "tpu"], "Error: --device 'tpu' is not a torch device; use auto, cpu or cuda"),
    (["--all", "--device", "meta"], "Error: --device meta: this command runs on cpu or cuda only"),
])
def test_errors_are_one_line(austen, args, message):
    result = run(austen, *args)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(message)


@pytest.mark.parametrize("args", [[], ["--all", "--hypothesis", "quote"], ["--span", "a:b"]])
def test_usage_errors(austen, args):
    result = run(austen, *args)
    assert result.exit_code == 2


def test_help_has_an_example():
    result = CliRunner().invoke(cli, ["search", "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output and "--hypothesis" in result.output


def test_a_cache_that_cannot_be_written_costs_nothing_but_the_cache(tmp_path, monkeypatch, caplog):
    path = tmp_path / "austen.h5"
    path.write_bytes(shared_file("planted", "austen").read_bytes())
    (tmp_path / "austen.h5.search").write_text("a file where the cache folder would go")
    (tmp_path / "xdg").write_text("and one where the fallback folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    result = run(path, "--hypothesis", "quote", "--top", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["units"][0]["neuron"] == f"layer0.c.{QUOTE}"
    assert "search results will not be kept: neither" in caplog.text  # on stderr outside pytest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["austen.h5", "austen.h5.search", "xdg"]


def test_a_cache_entry_that_cannot_be_saved_is_only_a_warning(tmp_path, caplog):
    path = tmp_path / "austen.h5"
    path.write_bytes(shared_file("planted", "austen").read_bytes())
    (tmp_path / "austen.h5.search" / "scores-quote.npz").mkdir(parents=True)  # blocks the rename
    result = run(path, "--hypothesis", "quote", "--top", "1")
    assert result.exit_code == 0, result.output
    assert f"layer0.c.{QUOTE}" in result.stdout
    assert "scores-quote.npz (Is a directory); they will be recomputed next time" in caplog.text
    assert not [p for p in (tmp_path / "austen.h5.search").iterdir() if p.name.endswith(".tmp")]


def test_all_with_top_ranks_that_many_units_per_hypothesis(python_file):
    data = json.loads(run(python_file, "--all", "--top", "2", "--json").stdout)
    per = {}
    for row in data["best"]:
        per.setdefault(row["hypothesis"], []).append(row["rank"])
    assert per and all(ranks == [1, 2] for ranks in per.values())


NOTHING_HERE = "--threshold, --min-on and --slack choose units for --span"


@pytest.mark.parametrize(("args", "message"), [
    (["--all", "--threshold", "0.5"], NOTHING_HERE),
    (["--hypothesis", "quote", "--min-on", "0.5"], NOTHING_HERE),
    (["--hypothesis", "quote", "--slack", "2"], NOTHING_HERE),
    (["--span", "0:5", "--threshold", "nan"], "nan is not a number"),
])
def test_options_that_would_do_nothing_are_refused(austen, args, message):
    result = run(austen, *args)
    assert result.exit_code == 2 and message in result.output


@pytest.fixture(scope="module")
def c_file(tmp_path_factory):
    """A random model's extraction over CPython's C headers (a private copy: the CLI caches beside it)."""
    from search_models import DATA, extract_text, random_model

    from lstmviz.model.vocab import Vocab

    names = ("c_pymacro.h.txt", "c_osdefs.h.txt")
    text = "".join((DATA / name).read_text(encoding="utf-8") for name in names)
    vocab = Vocab.from_text(text)
    return extract_text(random_model(vocab), text, tmp_path_factory.mktemp("c") / "c.h5", vocab=vocab)


def test_comment_on_c_text_uses_cs_rules_detected_and_shown(c_file):
    from lstmviz.search.hypotheses import hypothesis_values
    from lstmviz.store.reader import open_states

    result = run(c_file, "--hypothesis", "comment", "--top", "1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "hypothesis: comment - inside a C comment: /* … */, or // to the end of the line"
    assert lines[1].startswith("text:       c (detected: ")
    assert "preprocessor lines" in lines[1] and "--lang to choose another" in lines[1]
    data = json.loads(run(c_file, "--hypothesis", "comment", "--json").stdout)
    assert data["language"] == "c" and data["language_given"] is False
    with open_states(c_file) as s:
        c_rules = hypothesis_values(s, "comment", lang="c")
        old_rules = hypothesis_values(s, "comment", lang="prose")  # every '#' line a comment
    assert data["n_inside"] == int(c_rules.sum()) < int(old_rules.sum())


def test_lang_overrides_detection_and_is_shown(c_file):
    data = json.loads(run(c_file, "--hypothesis", "comment", "--lang", "python", "--json").stdout)
    assert data["language"] == "python" and data["language_given"] is True
    assert data["description"] == "inside a Python comment: # to the end of the line"
    text = run(c_file, "--hypothesis", "quote", "--lang", "c", "--top", "1").stdout
    assert text.splitlines()[1].startswith("text:       c (given with --lang); ")


def test_all_lists_hypotheses_of_other_languages_apart(c_file):
    out = run(c_file, "--all").stdout
    assert out.startswith("language: c (detected: ")
    assert "\nnot for c text: docstring, math, depth_env, heading\n" in out
    rows = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert {"comment", "preprocessor", "char"} <= rows
    data = json.loads(run(c_file, "--all", "--json").stdout)
    assert data["not_applicable"] == ["docstring", "math", "depth_env", "heading"]
    assert set(data["not_applicable"]) <= set(data["skipped"]) and data["language"] == "c"


@pytest.mark.parametrize(("args", "message"), [
    (["--hypothesis", "comment", "--lang", "cobol"],
     "Error: unknown language 'cobol'; choose one of c, python, shell, latex, html, wiki, prose"),
    (["--hypothesis", "docstring"], "Error: hypothesis 'docstring' applies only to python text, and this "
                                    "text reads as c (detected: "),
    (["--hypothesis", "math", "--lang", "python"], "Error: hypothesis 'math' applies only to latex text, "
                                                   "and this text reads as python (given); choose language "
                                                   "latex if the text is in it, or another hypothesis"),
    (["--pattern", "zzzz"], "Error: hypothesis 'pattern zzzz' is never true in this text"),
    (["--pattern", "(?s).+"], "Error: hypothesis 'pattern (?s).+' is always true in this text, so no unit "
                              "can track it; choose another hypothesis or another text"),
])
def test_language_errors_are_one_line(c_file, args, message):
    result = run(c_file, *args)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(message) and len(result.output.splitlines()) == 1
