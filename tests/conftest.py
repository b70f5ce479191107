"""Fixtures shared by the tests: torch on one thread, and the dashboard's browser fixtures
(each browser test module supplies its own ``h5`` file)."""

import pytest
from browsing import chromium_context, console_errors, serving
from extraction_files import one_thread


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Every test model is tiny: one thread is fastest, and stays fast when other jobs share the cores."""
    with one_thread():
        yield


@pytest.fixture(scope="module")
def server(h5):
    """The dashboard on the module's extraction file, served on a free local port."""
    from app.app import create_app

    with serving(create_app([h5])) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile, shared by a module's tests."""
    with chromium_context(tmp_path_factory.mktemp("profile"), viewport={"width": 1300, "height": 1000},
                          accept_downloads=True) as context:
        yield context


@pytest.fixture()
def page(browser):
    """A new page; the test fails if the page logs a console error or throws."""
    page = browser.new_page()
    errors = console_errors(page)
    yield page
    page.close()
    assert errors == []
