"""Browser fixtures: one real system for the whole session (Prefect server, API, executor, SMTP sink,
SQLite), and Debian's chromium driven by Playwright (no browser is downloaded). Every page a test
opens is checked: no dialog (a script that ran), no console error, no request off 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from databases import Users, create_officials, fresh_database
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)
from sqlalchemy.orm import Session, sessionmaker

from jianyi.db import make_engine
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.runtime.system import System

CHROMIUM = Path("/usr/bin/chromium")
RESULTS = Path(__file__).resolve().parent / "results"  # screenshots (gitignored)
PHONE = {"width": 375, "height": 740}


@dataclass
class Web:
    """The started system, and what the browser saw that it should not have."""

    system: System
    users: Users
    sessions: sessionmaker[Session]
    http: httpx.Client
    problems: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.system.api_url


@pytest.fixture(scope="session")
def web(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    prefect = PrefectServer(tmp_path_factory.mktemp("web-prefect"), ui=False).start()
    request.addfinalizer(prefect.stop)
    home = tmp_path_factory.mktemp("web-system")
    url = fresh_database(request, "sqlite", home)
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    users = create_officials(sessions)
    system = System(
        home,
        prefect_api_url=prefect.api_url,
        database_url=url,
        extra_env={
            "JIANYI_DEPLOYMENT_NAME": "lifecycle-web",
            "JIANYI_EXECUTOR_POLL_SECONDS": "0.2",
            "JIANYI_EXECUTOR_LEASE_SECONDS": "3",
            "JIANYI_DISPATCHER_POLL_SECONDS": "0.3",
        },
    )
    system.start_services()
    request.addfinalizer(system.stop)
    system.start_api()
    system.start_executor()
    with httpx.Client(base_url=system.api_url, timeout=30) as http:
        yield Web(system, users, sessions, http)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright, web: Web) -> Iterator[Browser]:
    # Debian's chromium, never a browser Playwright would download.
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def results() -> Path:
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    return RESULTS


def _watch(context: BrowserContext, web: Web) -> None:
    def on_request(req: Request) -> None:
        host = urlsplit(req.url).hostname
        if req.url.startswith(("http:", "https:")) and host != "127.0.0.1":
            web.problems.append(f"request off 127.0.0.1: {req.url}")

    def on_dialog(dialog: Dialog) -> None:
        web.problems.append(f"a script ran: {dialog.type} {dialog.message!r}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        # A page answered 4xx on purpose (a form with mistakes, a 403) logs "Failed to load
        # resource"; a file the page needs that failed is caught by on_response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            web.problems.append(f"console error: {message.text}")

    def on_response(response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            web.problems.append(f"{response.status} for {response.url}")

    context.on("request", on_request)
    context.on("dialog", on_dialog)
    context.on("console", on_console)
    context.on("response", on_response)
    context.on("page", lambda page: page.on("pageerror", lambda e: web.problems.append(f"page error: {e}")))


@pytest.fixture
def context(browser: Browser, web: Web) -> Iterator[BrowserContext]:
    """A fresh browser (no cookies), phone-sized; the test fails if any page misbehaved."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=web.url)
    _watch(context, web)
    web.problems.clear()
    yield context
    context.close()
    assert web.problems == []


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
