"""report.html in headless Chromium (Debian's, through Playwright): verdicts visible, filters work, a failed
check opens to its masked evidence. A screenshot of each page goes into its report folder and into
reports/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from spreadapi_conformance.catalog import OPTIONS

from ..browser._live import REPORTS, headless_chromium
from .conftest import Certified


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with headless_chromium() as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
        context.set_default_timeout(15_000)
        yield context.new_page()


def screenshot(page: Any, run: Certified, name: str) -> None:
    path = run.report_dir / "report.png"
    page.screenshot(path=str(path), full_page=False)
    (REPORTS / "screenshots").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, REPORTS / "screenshots" / f"{name}.png")
    assert path.stat().st_size > 10_000


def test_in_process_report_shows_every_verdict(page, certify_in_process):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(certify_in_process.file("report.html").as_uri())
    for option in OPTIONS:
        card = page.locator(f'.verdict[data-option="{option}"]')
        assert card.is_visible()
        assert card.locator(".value").inner_text() == "PASS"
    assert page.locator("#summary").inner_text().startswith(f"{certify_in_process.json()['summary']['passed']} passed")
    page.click('button[data-filter="failed"]')  # nothing failed: the page says so
    assert page.locator(".none-shown").is_visible()
    page.click('button[data-filter="all"]')
    assert page.locator("details.check").first.is_visible()
    screenshot(page, certify_in_process, "report-in-process")
    assert not errors, errors


def test_failed_check_opens_to_masked_evidence(page, broken_run):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(broken_run.file("report.html").as_uri())
    assert page.locator('.verdict[data-option="rest-actions"] .value').inner_text() == "FAIL"
    assert page.locator('.verdict[data-option="claude-desktop"] .value').inner_text() == "NOT-CLAIMED"
    page.click('button[data-filter="failed"]')
    assert not page.locator('details.check[data-outcome="passed"]').first.is_visible()
    check = page.locator("details#REST-AUTH-010")
    assert check.is_visible()
    check.locator("summary").click()
    evidence = check.locator("pre.http.request").last
    assert evidence.is_visible()
    assert "authorization: Bearer svc_tk_…(masked)" in evidence.inner_text()
    assert "HTTP 500" in check.locator("pre.http.response").last.inner_text()
    assert "SpreadAPI behaviour 1.7" in check.locator("dl").inner_text()
    screenshot(page, broken_run, "report-failing-target")
    assert not errors, errors
