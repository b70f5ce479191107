"""Where search results are kept: bounded for a user's own patterns, never beside a file this process
does not own or in a folder it may not write."""

import os
import stat

import pytest
from search_models import shared_file

from lstmviz.errors import SearchError
from lstmviz.search import cache
from lstmviz.search.rank import cached_scores, rank_units
from lstmviz.store.reader import open_states

BUILTIN = {"quote", "string", "url", "wikilink", "template", "tag", "comment", "after_newline", "depth_paren",
           "depth_square", "depth_curly", "depth", "column", "line_end", "indent", "word_pos"}


@pytest.fixture()
def austen(tmp_path, monkeypatch):
    """A private copy in its own folder, and a private per-user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    folder = tmp_path / "extractions"
    folder.mkdir()
    path = folder / "austen.h5"
    path.write_bytes(shared_file("planted", "austen").read_bytes())
    return path


def beside(path):
    return path.with_name(path.name + ".search")


def names(folder):
    return sorted(p.name for p in folder.glob("*.npz"))


def test_a_users_patterns_are_bounded_and_the_builtins_kept(austen, monkeypatch):
    monkeypatch.setattr(cache, "MAX_BOUNDED_ENTRIES", 3)
    patterns = ["Mr", "the", "Anne", "said", "zzzq", "[A-Z]"]  # zzzq is never true: its marker is kept too
    with open_states(austen) as states:
        rank_units(states, "quote")
        for pattern in patterns:
            try:
                rank_units(states, pattern)
            except SearchError as e:
                assert "never true" in str(e)
        kept = [p for p in names(beside(austen)) if p.startswith("scores-pattern-")]
        assert len(kept) == 3
        assert {f"scores-{b}.npz" for b in BUILTIN} <= set(names(beside(austen)))
        assert cached_scores(states, "said") is not None and cached_scores(states, "[A-Z]") is not None
        assert cached_scores(states, "Mr") is None and cached_scores(states, "Anne") is None
        cached_scores(states, "said")  # used again: now the most recent
        rank_units(states, "Anne")
        assert cached_scores(states, "said") is not None and cached_scores(states, "[A-Z]") is not None


def test_a_users_patterns_are_bounded_in_bytes(austen, monkeypatch):
    with open_states(austen) as states:
        rank_units(states, "Mr")
        size = next(beside(austen).glob("scores-pattern-*.npz")).stat().st_size
        monkeypatch.setattr(cache, "MAX_BOUNDED_BYTES", 2 * size + size // 2)
        for pattern in ("the", "Anne", "said"):
            rank_units(states, pattern)
        assert len(list(beside(austen).glob("scores-pattern-*.npz"))) == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_nothing_is_written_beside_another_users_file(austen, tmp_path):
    os.chown(austen, 4242, 4242)
    with open_states(austen) as states:
        rank_units(states, "Mr")
        assert not beside(austen).exists()
        folder = cache.cache_dir(austen)
        assert folder.parent == tmp_path / "home-cache" / "lstmviz" / "search"
        assert any(p.startswith("scores-pattern-") for p in names(folder))
        assert cached_scores(states, "Mr") is not None


def test_nothing_is_written_in_a_read_only_folder(austen, tmp_path, monkeypatch):
    if os.geteuid() == 0:  # root writes whatever the mode bits say: ask os.access as another user would
        real = os.access

        def as_a_user(path, mode, **kwargs):
            if mode & os.W_OK and not os.stat(path).st_mode & stat.S_IWUSR:
                return False
            return real(path, mode, **kwargs)

        monkeypatch.setattr(os, "access", as_a_user)
    os.chmod(austen.parent, 0o555)
    try:
        with open_states(austen) as states:
            rank_units(states, "Mr")
        assert sorted(os.listdir(austen.parent)) == ["austen.h5"]
        assert cache.cache_dir(austen).parent == tmp_path / "home-cache" / "lstmviz" / "search"
    finally:
        os.chmod(austen.parent, 0o755)


def test_the_per_user_folder_follows_the_files_size_and_time(austen, monkeypatch):
    monkeypatch.setattr(cache, "may_write_beside", lambda path: False)
    first = cache.cache_dir(austen)
    assert first.name.endswith(f"-{austen.stat().st_size}-{austen.stat().st_mtime_ns}")
    st = austen.stat()
    os.utime(austen, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # as a new extraction renamed into place
    second = cache.cache_dir(austen)
    assert second != first and second.exists() and not first.exists()  # stale results are removed
