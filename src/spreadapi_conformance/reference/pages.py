"""HTML pages (the OAuth consent and error pages, the service page): one jinja2 environment, one layout.

Autoescaping is on for every template, so service titles, client names and request parameters are
text, never markup. Every page carries a strict Content-Security-Policy: no scripts at all, styles
only from the layout's own ``<style>`` (a per-response nonce), and no framing (clickjacking on the
consent page would approve a grant for the user).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

__all__ = ["render"]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

_SECURITY = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it Chromium posts forms with "Origin: null", which the CSRF check must
    # refuse. same-origin still keeps the authorize URL (state, challenge) from other sites.
    "Referrer-Policy": "same-origin",
}
# Pages that echo a request or take credentials are never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def render(
    template: str, status: int = 200, *, cache: dict[str, str] = NO_STORE, frameable: bool = False, **context: Any
) -> HTMLResponse:
    """``frameable``: the fault ``consent-page-frameable`` (no X-Frame-Options, no frame-ancestors)."""
    nonce = secrets.token_urlsafe(16)
    # No form-action: browsers apply it to the redirect after the post, which leaves this origin.
    ancestors = "" if frameable else "; frame-ancestors 'none'"
    policy = f"default-src 'none'; style-src 'nonce-{nonce}'{ancestors}; base-uri 'none'"
    html = _TEMPLATES.get_template(template).render(nonce=nonce, **context)
    security = {k: v for k, v in _SECURITY.items() if not (frameable and k == "X-Frame-Options")}
    headers = {**cache, **security, "Content-Security-Policy": policy}
    return HTMLResponse(html, status, headers=headers)
