"""Fixtures shared by the dashboard's browser tests; each module supplies its own ``h5`` file."""

import pytest
from browsing import chromium_context, console_errors, serving


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
