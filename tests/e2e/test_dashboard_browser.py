"""The dashboard in headless Chromium (Debian chromium + Playwright): overview → a condition's
scorecard (screenshot) → a provider → the .json twin, and the patients-like-you form. Screenshots
go to build/screenshots/ (not committed). No request may leave localhost."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
import dashboard_fixture as fx  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).parents[2] / "build" / "screenshots"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                 reason="Debian chromium not installed (apt-get install -y chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url():  # type: ignore[no-untyped-def]
    import uvicorn

    from carevalue.web.app import create_dashboard_app
    from carevalue.workspace import Workspace

    app = create_dashboard_app(Workspace.on_connection(fx.build()))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_scorecard_provider_and_twin_in_chromium(base_url: str) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base_url) else None)
        page.goto(f"{base_url}/overview")
        assert page.locator("#conditions").is_visible()
        page.click(f"text={'Osteoarthritis of the hip and total hip replacement'}")
        page.wait_for_selector("#costs")
        page.wait_for_selector("#cost-fig .main-svg")  # plotly drew the figure
        assert "Outcomes by tier" in page.content()
        page.screenshot(path=str(SHOTS / "scorecard.png"), full_page=True)
        page.locator("#costs a.provider", has_text="org-b").first.click()
        page.wait_for_selector("h1:has-text('org-b')")
        page.screenshot(path=str(SHOTS / "provider.png"), full_page=True)
        page.click("text=The rows of this page as JSON")
        twin = json.loads(page.locator("body").inner_text())
        assert twin["provider"] == "org-b"
        assert {r["organization_id"] for r in twin["costs"]} == {"org-b"}
        page.goto(f"{base_url}/conditions/{fx.CONDITION}/comparison")
        page.wait_for_selector("#forest-fig .main-svg")
        page.screenshot(path=str(SHOTS / "comparison.png"), full_page=True)
        page.goto(f"{base_url}/conditions/{fx.CONDITION}/like-you")
        page.fill("input[name=age]", "70")
        page.fill("input[name='asa-class']", "2")
        page.click("#like-you-submit")
        page.wait_for_selector("#like-you")
        assert "too little data" in page.locator("#like-you").inner_text()
        page.screenshot(path=str(SHOTS / "like-you.png"), full_page=True)
        browser.close()
    assert outside == []
