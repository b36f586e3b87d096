"""Secret masking for everything certify writes or prints.

Two nets: the literal secret values the suite knows (every value of ``TargetSpec.secrets()``, registered
by the ``target`` fixture, plus whatever a caller passes), and the token formats of the platform
(``svc_tk_``, ``spapi_live_``, ``oat_``, ``ac_`` + 64 hex) and any ``Bearer`` credential, so a token the
target file never held (one the server issued mid-check, a code) is masked too. The prefix stays
visible (``svc_tk_…(masked)``): a reader sees which kind of credential was sent, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "…(masked)"
TOKEN_PREFIXES = ("svc_tk_", "spapi_live_", "oat_", "ac_")
# A prefix + 64 hex, wherever it stands (after "%20" in a URL, inside a longer word): masking a
# look-alike costs nothing. Upper-case hex too: a client may have upper-cased the value.
_TOKEN = re.compile(r"(svc_tk_|spapi_live_|oat_|ac_)[0-9A-Fa-f]{64,}")
# Bearer credentials that are not already masked. Prose says "a Bearer challenge" and challenges say
# 'Bearer error="invalid_token"', so a bare "Bearer <word>" is masked only where it is a credential:
# after "Authorization:" (a header, a repr of a headers dict), or when the word looks like a token
# (token68, 16+ characters, a digit in it, not an auth-param name).
_NOT_MASKED = r"(?!(?:svc_tk_|spapi_live_|oat_|ac_)?…\(masked\))"
_AUTHORIZATION = re.compile(
    r"(?i)(authorization[\"']?\s*[:=,]\s*[\"']?\s*bearer[ \t]+)" + _NOT_MASKED + r"([^\s\"',;<>)\]}]+)"
)
_BEARER = re.compile(
    r"(?i)\b(bearer[ \t]+)" + _NOT_MASKED + r"(?=[A-Za-z0-9._~+/-]*\d)([A-Za-z0-9._~+/-]{16,}=*)(?![=\w])"
)

_registered: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember secret values for every later :func:`mask` in this process (the target's tokens)."""
    _registered.update(v for v in values if v)


def registered_secrets() -> frozenset[str]:
    return frozenset(_registered)


def _masked_form(secret: str) -> str:
    for prefix in TOKEN_PREFIXES:
        if secret.startswith(prefix):
            return prefix + MASK
    return MASK


class Masker:
    """Replace secrets in text; ``extra`` adds values to the registered ones."""

    def __init__(self, extra: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in (*_registered, *extra) if s}, key=len, reverse=True)

    def text(self, value: str) -> str:
        if not value:
            return value
        for secret in self.secrets:
            # The value as sent, and as it appears in a URL or a form body.
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                if form in value:
                    value = value.replace(form, _masked_form(secret))
        value = _TOKEN.sub(lambda m: m.group(1) + MASK, value)
        value = _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, value)
        return _BEARER.sub(lambda m: m.group(1) + MASK, value)

    def obj(self, value: Any) -> Any:
        """Mask every string in a JSON-like structure (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.obj(k): self.obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.obj(v) for v in value]
        return value

    def leaks(self, text: str) -> list[str]:
        """What in ``text`` is still a secret (for the final check of a written report); values not shown."""
        found = [f"a registered secret ({_masked_form(s)})" for s in self.secrets if s in text]
        found += [f"a {m.group(1)} token" for m in _TOKEN.finditer(text)]
        return found


def mask(value: str, extra: Iterable[str | None] = ()) -> str:
    return Masker(extra).text(value)
