"""No credential leaves the target: a guard on every client that carries the target file's secrets.

A deployment's documents name URLs (an OpenAPI ``servers`` entry, a listing's ``endpoint``, an
authorization server's endpoints), and a staging deployment may well name production. A check that
followed such a URL with the target file's service token would hand staging's token to another host.
So every client built for a check or a notebook carries :class:`CredentialGuard`'s request hook: a
request to an origin the target file does not trust is refused before it is sent when it carries a
secret of the file (in a header, the URL or the body) or any ``Authorization`` or ``Cookie`` header
(an access token the run obtained is the target's credential too).

The trusted origins are the target's own (its ``base_url``) and the authorization server's when the file
names it (``[oauth] issuer``). Checks judge a URL they are about to follow with :func:`on_origin` first and
fail with the evidence when it points elsewhere; the guard is the net under them, and a request it
refuses raises :class:`OffTargetRequest`, which the report shows as a defect of the kit, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


class OffTargetRequest(Exception):
    """The kit refused to send a credential to an origin the target file does not trust."""


def origin(url: str) -> str:
    """``scheme://host:port`` of an absolute URL, lower-cased, with the scheme's default port filled in
    (RFC 6454 §4); ``""`` for a relative or unparsable URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname or port is None:
        return ""
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}:{port}"


@dataclass(frozen=True)
class CredentialGuard:
    origins: frozenset[str]  # as :func:`origin` writes them
    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, urls: Iterable[str | None], secrets: Iterable[str | None]) -> CredentialGuard:
        return cls(frozenset(filter(None, (origin(u) for u in urls if u))), tuple(s for s in secrets if s))

    def trusts(self, url: str) -> bool:
        return origin(url) in self.origins

    def carried(self, request: Any) -> str | None:
        """What credential ``request`` carries (a description, never the value), or None."""
        for name in CREDENTIAL_HEADERS:
            if request.headers.get(name):
                return f"an {name.title()} header"
        raw_url = str(request.url)
        texts = [raw_url, unquote(raw_url), *(v for _, v in request.headers.multi_items())]
        try:
            body = request.content
        except Exception:  # a streamed upload cannot be read here: refuse it rather than guess
            return "a streamed body that cannot be inspected"
        if body:
            texts.append(body.decode("utf-8", errors="replace"))
        for secret in self.secrets:
            forms = {secret, quote(secret, safe=""), quote_plus(secret)}
            if any(form in text for form in forms for text in texts):
                return "a secret from the target file"
        return None

    def check(self, request: Any) -> None:
        if self.trusts(str(request.url)):
            return
        what = self.carried(request)
        if what is not None:
            trusted = ", ".join(sorted(self.origins)) or "none"
            raise OffTargetRequest(
                f"refused to send {what} to {origin(str(request.url)) or request.url}, which is not the "
                f"target's origin (trusted: {trusted}); a check must judge a URL before it follows it"
            )

    async def on_request(self, request: Any) -> None:
        self.check(request)


def on_origin(url: str, guard: CredentialGuard, what: str) -> str:
    """``url`` when the target trusts its origin; else an AssertionError naming both (the target's
    document or answer pointed elsewhere, and nothing is sent there)."""
    if not guard.trusts(url):
        trusted = ", ".join(sorted(guard.origins))
        raise AssertionError(
            f"{what} {url!r} is not on the target's origin ({trusted}): a client configured from it would "
            f"send its requests, and the credential, to {origin(url) or 'an unresolvable place'}; the kit "
            "sends nothing there"
        )
    return url
