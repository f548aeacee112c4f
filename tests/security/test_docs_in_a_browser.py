"""Swagger UI still works under its Content-Security-Policy, in a real headless Chromium.

The browser is Debian's `chromium` package (CI installs it: .ci/browser), driven by Playwright
for Python with `executable_path`, so nothing is downloaded at test time. Locally the test is
skipped when no Chromium is installed; on CI (`CI` set) a missing browser is a failure.
"""

import os
import shutil

import pytest

from tests.security.live import live_server

CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)


@pytest.fixture
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: .ci/browser installs Debian's chromium.")
        pytest.skip("Chromium is not installed (apt-get install chromium, or run .ci/browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_swagger_ui_renders_and_tries_a_request_under_its_csp(browser, database_url, tmp_path):
    with live_server(database_url, tmp_path, workers=1) as port:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        failed: list[str] = []
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        response = page.goto(f"http://127.0.0.1:{port}/api/docs")
        assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "shop" in page.inner_text(".swagger-ui .info .title")

        # "Try it out" on the health check: the call goes back to this origin (connect-src).
        page.locator(".opblock-summary-path", has_text="/api/health").first.click()
        page.get_by_role("button", name="Try it out").first.click()
        page.get_by_role("button", name="Execute").first.click()
        status = page.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=20_000)
        assert status.inner_text().strip().startswith("200")
        assert not [text for text in problems if "Content Security Policy" in text], problems
        # Every resource the page asked for loaded. (The browser also asks for /favicon.ico on
        # its own, which we do not serve: its 404 shows up only as a console line.)
        assert failed == []
        assert [text for text in problems if "Failed to load resource" not in text] == []
