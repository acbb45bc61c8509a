"""The dashboard in headless Chromium (Debian chromium + Playwright), served by the API app over
the fixture store: sign in on the sign-in page as a clinician → overview → a condition's scorecard
→ a provider → its care cycles → one patient's timeline → the .json twin, the comparison, and the
patients-like-you form. Screenshots go to build/screenshots/ (not committed). No request may leave
localhost."""

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
PASSWORD = "correct horse battery"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                 reason="Debian chromium not installed (apt-get install -y chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import uvicorn

    from carevalue.api.app import create_app

    app = create_app(fx.publish(tmp_path_factory.mktemp("store")), ops=tmp_path_factory.mktemp("ops"))
    app.state.carevalue.users.add("doc", PASSWORD, "clinician", ipu_ids=["ipu-hip-b"])
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


def test_drill_down_to_a_patient_and_like_you_in_chromium(base_url: str) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base_url) else None)
        # not signed in: the page sends the browser to the sign-in form, which comes back to it
        page.goto(f"{base_url}/dashboard/overview")
        page.wait_for_selector("#sign-in-form")
        page.fill("input[name=username]", "doc")
        page.fill("input[name=password]", "not the password")
        page.click("#sign-in-submit")
        assert "wrong name or password" in page.locator("#sign-in-error").inner_text()
        page.screenshot(path=str(SHOTS / "sign-in.png"), full_page=True)
        page.fill("input[name=username]", "doc")
        page.fill("input[name=password]", PASSWORD)
        page.click("#sign-in-submit")
        page.wait_for_selector("#conditions")
        assert "doc (clinician)" in page.locator("header").inner_text()
        page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
        # overview → condition
        page.click("text=Osteoarthritis of the hip and total hip replacement")
        page.wait_for_selector("#costs")
        page.wait_for_selector("#cost-fig .main-svg")  # plotly drew the figure
        assert "Outcomes by tier" in page.content()
        assert "org-b" in page.locator("#costs").inner_text() and "8,250" in page.locator("#costs").inner_text()
        page.screenshot(path=str(SHOTS / "scorecard.png"), full_page=True)
        # → provider
        page.locator("#costs a.provider", has_text="org-b").first.click()
        page.wait_for_selector("h1:has-text('org-b')")
        page.screenshot(path=str(SHOTS / "provider.png"), full_page=True)
        # → its care cycles (the clinician's IPU) → a patient's timeline
        page.click("#cycles-link")
        page.wait_for_selector("#cycles")
        assert page.locator("#cycles a.patient").count() == 60
        page.screenshot(path=str(SHOTS / "cycles.png"), full_page=True)
        page.locator("#cycles a.patient", has_text="p62").click()
        page.wait_for_selector("#timeline-fig .main-svg")
        text = page.locator("main").inner_text()
        assert "Patient p62" in text and "8,250" in text and "Length of hospital stay" in text
        assert [page.locator("#cycle-c62 table.phases tbody tr").nth(i).locator("td").first.inner_text()
                for i in range(3)] == ["diagnosing", "intervening", "recovering-rehabbing"]
        assert page.locator("#cycle-c62 table.events tbody tr").count() == 5
        page.screenshot(path=str(SHOTS / "timeline.png"), full_page=True)
        page.click("text=The rows of this page as JSON")
        twin = json.loads(page.locator("body").inner_text())
        assert twin["patient_id"] == "p62" and twin["cycles"][0]["cost"]["total_cost"] == pytest.approx(8250)
        # a patient outside the clinician's IPUs is refused
        refused = page.goto(f"{base_url}/dashboard/patients/p1")
        assert refused is not None and refused.status == 403
        page.goto(f"{base_url}/dashboard/conditions/{fx.CONDITION}/comparison")
        page.wait_for_selector("#forest-fig .main-svg")
        page.screenshot(path=str(SHOTS / "comparison.png"), full_page=True)
        page.goto(f"{base_url}/dashboard/conditions/{fx.CONDITION}/like-you")
        page.fill("input[name=age]", "70")
        page.fill("input[name='asa-class']", "2")
        page.click("#like-you-submit")
        page.wait_for_selector("#like-you")
        rows = page.locator("#like-you").inner_text()
        assert "too little data" in rows and "org-b" in rows
        page.screenshot(path=str(SHOTS / "like-you.png"), full_page=True)
        page.click("#sign-out")
        page.wait_for_selector("#sign-in-form")
        browser.close()
    assert outside == []
