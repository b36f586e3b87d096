"""The options compared, as a reader without Jupyter sees them: the HTML `spreadapi-conformance notebooks`
writes opens in headless Chromium with the chart drawn and the figures' table; a screenshot stays in
reports/screenshots/options_compared.png."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from .conftest import screenshot


def test_the_options_compared_html_shows_its_chart_and_figures(page: Any, tmp_path):
    command = [sys.executable, "-m", "spreadapi_conformance", "notebooks", "options_compared"]
    run = subprocess.run([*command, "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr[-3000:]}"
    html = tmp_path / "notebooks" / "options_compared.html"
    # The page's external scripts (MathJax, require.js from a CDN) are not reachable here; nothing needs them.
    page.route("http*://**", lambda route: route.abort())
    page.goto(html.as_uri(), wait_until="load")
    chart = page.locator("img[src^='data:image/png']").first
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    width, height = chart.evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert width > 600 and height > 200, (width, height)  # the two panels, drawn (not a broken image)
    table = page.locator("table", has_text="median per calculation")
    assert table.is_visible()
    rows = table.locator("tbody tr")
    assert rows.count() == 5, rows.all_inner_texts()
    assert page.get_by_text("Fastest per calculation:").is_visible()
    screenshot(page, "options_compared")
