"""The command line: ``serve`` runs the reference, ``certify`` checks a target, ``checks`` lists the catalogue,
``notebooks`` runs the walkthroughs, ``bridge`` is the stdio bridge."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from .catalog import OPTIONS as OPTION_NAMES
from .engine import ENGINES

app = typer.Typer(
    help="Conformance kit for spreadsheet-as-an-API platforms (SpreadAPI style).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help: flags as flags (no "<bool>" or "<list[str]>" type tags), aligned, one column of text.
    rich_markup_mode=None,
)


def _parse_tokens(pairs: list[str]) -> dict[str, str]:
    from .reference.credentials import SERVICE_TOKEN_PREFIX, looks_like

    tokens = {}
    for pair in pairs:
        service_id, sep, token = pair.partition("=")
        if not sep or not service_id or not token:
            raise typer.BadParameter(f"expected SERVICE_ID=TOKEN, got {pair.split('=')[0]!r}=…")
        if not looks_like(token, SERVICE_TOKEN_PREFIX):
            # The value is a secret even when malformed: name the service, not the token.
            raise typer.BadParameter(
                f"the token for {service_id!r} must be {SERVICE_TOKEN_PREFIX} followed by 64 lowercase hex characters"
            )
        tokens[service_id] = token
    return tokens


def _parse_allowlist(entries: list[str]) -> tuple[str, ...]:
    """Each entry an exact https redirect URI, or a prefix ending in "*" (scheme and host still exact)."""
    for entry in entries:
        parts = urlsplit(entry.removesuffix("*"))
        if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc or "#" in entry:
            # Not echoed: an entry with user information may carry a password.
            raise typer.BadParameter(
                "must be https, without user information or fragment (loopback is always allowed)",
                param_hint="--redirect-allowlist",
            )
    return tuple(entries)


async def _reachable(url: str) -> bool:
    from .reference.store import open_store

    store = open_store(url)
    try:
        return await store.ping()
    finally:
        await store.aclose()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


@app.command()
def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8787,
    redis_url: Annotated[
        str | None,
        typer.Option(metavar="URL", envvar="REDIS_URL", help="Keep tokens in Redis (redis://…); default: memory."),
    ] = None,
    store_prefix: Annotated[
        str, typer.Option(metavar="PREFIX", help="Prefix for every Redis key, to share one Redis between deployments.")
    ] = "",
    base_url: Annotated[
        str | None, typer.Option(metavar="URL", help="The URL this server advertises; default http://HOST:PORT.")
    ] = None,
    write_target: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Write a target file describing this server (holds secrets, mode 600)."),
    ] = None,
    engine: Annotated[
        str, typer.Option(metavar="ENGINE", help=f"Spreadsheet engine: {', '.join(ENGINES)}.")
    ] = "formulas",
    service_token: Annotated[
        list[str],
        typer.Option(
            metavar="ID=TOKEN", help="Pin a service token as SERVICE_ID=svc_tk_…; repeatable. Default: generated."
        ),
    ] = [],  # noqa: B006 (typer reads the default, it is never mutated)
    redirect_allowlist: Annotated[
        list[str],
        typer.Option(
            metavar="URI",
            help="Accept this redirect URI at client registration, besides ChatGPT's, Claude's and loopback; "
            'a trailing "*" makes it a prefix. Repeatable.',
        ),
    ] = [],  # noqa: B006
    admin_token: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN",
            envvar="SPREADAPI_ADMIN_TOKEN",
            show_default=False,
            help="Enable POST /admin/{mcp,service}-tokens/{issue,revoke} with this bearer token (16+ characters). "
            "Default: no admin surface.",
        ),
    ] = None,
    code_lifetime: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=1,
            help="How long an authorization code stays redeemable (SpreadAPI's 600; --write-target states it, "
            "and certify waits it out to see a code expire, when its check time limit allows).",
        ),
    ] = 600.0,
    workers: Annotated[
        int,
        typer.Option(
            metavar="N",
            min=1,
            help="Serve from this many worker processes (more than one needs --redis-url, where they share "
            "every credential).",
        ),
    ] = 1,
    fault: Annotated[
        list[str],
        typer.Option(
            metavar="NAME",
            help="Reproduce this deployment bug (repeatable; spreadapi-conformance selftest --list names them). "
            "For proving what certify catches, never for a real deployment.",
        ),
    ] = [],  # noqa: B006
) -> None:
    """Run the reference implementation under uvicorn."""
    import uvicorn

    from .fixtures import load_services
    from .reference.app import Reference
    from .reference.config import ReferenceConfig
    from .target import reference_spec
    from .target import write_target as write_target_file

    if engine not in ENGINES:
        raise typer.BadParameter(f"choose one of {', '.join(ENGINES)}", param_hint="--engine")
    if workers > 1 and not redis_url:
        raise typer.BadParameter("more than one worker needs --redis-url (a memory store is per process)")
    advertised = (base_url or f"http://{host}:{port}").rstrip("/")
    pinned = _parse_tokens(service_token)
    if unknown := sorted(set(pinned) - set(load_services())):
        raise typer.BadParameter(f"no fixture service named {', '.join(unknown)}", param_hint="--service-token")
    config = ReferenceConfig(
        base_url=advertised,
        store_url=redis_url,
        store_prefix=store_prefix,
        engine=engine,
        service_tokens=pinned,
        redirect_allowlist=_parse_allowlist(redirect_allowlist),
        admin_token=admin_token or None,
        oauth_code_lifetime=code_lifetime,
        faults=frozenset(fault),
    )

    def announce(reference: Reference) -> None:
        if write_target:
            spec = reference_spec(reference, advertised, admin_token=config.admin_token)
            write_target_file(
                write_target,
                advertised,
                list(spec.services.values()),
                mcp_tokens=spec.mcp_tokens,
                oauth=spec.oauth,
                admin_token=spec.admin_token,
                claims=tuple(OPTION_NAMES),  # the reference serves every integration option
            )
        store = "redis" if redis_url else "memory"
        # On stdout, flushed at once: a script (or a person) waiting for the server reads where it is.
        print(
            f"serving {len(reference.services)} services at {advertised} (listening on {host}:{port}; "
            f"store: {store}, engine: {engine})",
            flush=True,
        )
        if write_target:
            print(f"target file written to {write_target}", flush=True)

    try:
        reference = Reference(config, on_seeded=[announce])
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if redis_url and not asyncio.run(_reachable(redis_url)):
        typer.echo(f"error: cannot reach Redis at {_without_password(redis_url)}", err=True)
        raise typer.Exit(2)
    log_level = os.environ.get("SPREADAPI_LOG_LEVEL", "warning")
    if workers == 1:
        uvicorn.run(reference.app, host=host, port=port, log_level=log_level)
        return
    from .reference.workers import CONFIG_ENV, encode_config

    asyncio.run(_seed_once(reference))
    os.environ[CONFIG_ENV] = encode_config(config)
    factory = "spreadapi_conformance.reference.workers:worker_app"
    uvicorn.run(factory, factory=True, workers=workers, host=host, port=port, log_level=log_level)


async def _seed_once(reference) -> None:
    """Seed the credentials into Redis (and write the target file) before the workers start."""
    try:
        await reference.seed()
    finally:
        await reference.aclose()


@app.command()
def certify(
    target: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Target file of a deployment (serve --write-target writes one).")
    ] = None,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Certify the embedded reference (the default).")
    ] = False,
    option: Annotated[
        list[str],
        typer.Option(
            "--option",
            metavar="NAME",
            help=f"An integration option to certify; repeatable. Default: every one ({', '.join(OPTION_NAMES)}).",
        ),
    ] = [],  # noqa: B006 (typer reads the default, it is never mutated)
    report_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="Where report.json, junit.xml and report.html go.")
    ] = Path("reports"),
    max_rps: Annotated[
        float | None,
        typer.Option(
            metavar="N",
            help="At most this many requests per second to a live target (token bucket). Default: no limit.",
        ),
    ] = None,
    mcp_revision: Annotated[
        list[str],
        typer.Option(
            metavar="REVISION",
            help="An MCP revision to check (e.g. 2025-11-25); repeatable. The MCP checks that run at each "
            "revision run only at these; the others are reported as not run. Default: every revision the MCP "
            "SDK offers. An unknown revision is an error (exit 2).",
        ),
    ] = [],  # noqa: B006
    select: Annotated[
        str | None,
        typer.Option("-k", "--select", metavar="EXPR", help="Run only the checks matching this pytest -k expression."),
    ] = None,
    bridge_command: Annotated[
        str | None,
        typer.Option(
            metavar="CMD",
            envvar="SPREADAPI_BRIDGE_COMMAND",
            help='The stdio bridge the Claude Desktop replay launches, one command line (e.g. "npx spreadapi-mcp"). '
            'Default: "spreadapi-conformance bridge".',
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    check_timeout: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="One check's time limit in seconds (default 120, stretched under --max-rps; 0: none). A check "
            "that runs out fails, naming the request it waited for.",
            show_default=False,
        ),
    ] = None,
    fuzz_examples: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="The fuzzers' random examples (REST-FUZZ, MCP-FUZZ): generated requests per REST operation and "
            "mode, MCP messages per kind. Default: 75 in process, 20 against a --target (each one a paced request).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Run this many checks at once (pytest-xdist workers; 0: one at a time). Default: 4 against a "
            "--target (its checks wait on the network; --max-rps is shared among them), 0 in process.",
            show_default=False,
        ),
    ] = None,
    reference_fault: Annotated[
        list[str],
        typer.Option(
            metavar="NAME",
            help="Start the embedded reference with this deployment bug (repeatable; selftest --list names "
            "them). For proving what certify catches.",
        ),
    ] = [],  # noqa: B006
    with_notebooks: Annotated[
        bool,
        typer.Option(
            "--with-notebooks",
            help="After the checks, run the walkthrough notebooks against the same target into DIR/notebooks "
            "(executed copies and HTML); report.html links them.",
        ),
    ] = False,
) -> None:
    """Run the conformance checks against a target, print a verdict per option, write the reports.

    Exit code 0: every MUST requirement of the certified options held. 1: one failed. 2: the target cannot
    be certified (unreachable, wrong URL, refused token, malformed file). 3: nothing failed, but the run is
    incomplete (a -k subset, a MUST not run). 4: nothing failed, but a check raised in the kit's own code.
    5: certified, but a notebook (--with-notebooks) failed."""
    from .certify import CertifyRequest, run

    if target and in_process:
        typer.echo("error: give either --target or --in-process, not both", err=True)
        raise typer.Exit(2)
    if with_notebooks and reference_fault:
        # The notebooks start a reference of their own, without the fault: they would show another deployment.
        typer.echo("error: --with-notebooks cannot run against a --reference-fault reference", err=True)
        raise typer.Exit(2)
    request = CertifyRequest(
        target=target,
        options=option,
        report_dir=report_dir,
        max_rps=max_rps,
        mcp_revisions=mcp_revision,
        select=select,
        bridge_command=bridge_command,
        progress=progress,
        workers=workers,
        check_timeout=check_timeout,
        fuzz_examples=fuzz_examples,
        reference_faults=tuple(reference_fault),
        with_notebooks=with_notebooks,
    )
    raise typer.Exit(run(request))


@app.command()
def selftest(
    fault: Annotated[
        list[str], typer.Option(metavar="NAME", help="Only this fault (repeatable). Default: every one.")
    ] = [],  # noqa: B006
    list_faults: Annotated[
        bool, typer.Option("--list", help="List the faults and the checks meant to catch them.")
    ] = False,
    report_dir: Annotated[
        Path, typer.Option(metavar="DIR", help="Where selftest.json, selftest.html and each run's reports go.")
    ] = Path("reports"),
    jobs: Annotated[int, typer.Option(metavar="N", help="Certify runs at once.")] = 2,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Run only the checks each fault names (a minute, not a quarter of an hour): proves each fault "
            "is caught by its own checks, not that no other check misjudges it.",
        ),
    ] = False,
) -> None:
    """Prove what certify catches: certify the clean reference (no false alarm allowed), then the reference
    with each deliberate deployment bug (each must be caught by a check it names).

    Exit code 0: no false alarm, every fault caught, no check raised in the kit, and every entry a fault names
    failed under it. 1: otherwise. 2: an unknown fault."""
    from .reference.faults import FAULTS, check_names
    from .selftest import run_selftest

    try:
        check_names(fault)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if list_faults:
        for item in FAULTS.values():
            if not fault or item.name in fault:
                typer.echo(f"{item.name}\t{item.area}\t{', '.join(item.caught_by)}\t{item.bug}")
        return
    if jobs < 1:
        typer.echo("error: --jobs must be at least 1", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_selftest(fault, report_dir, jobs=jobs, quick=quick))


@app.command()
def checks(
    option: Annotated[
        list[str], typer.Option("--option", metavar="NAME", help="Only the checks of this option; repeatable.")
    ] = [],  # noqa: B006
    area: Annotated[
        str | None, typer.Option(metavar="AREA", help="Only this area: REST, OPENAPI, OAUTH, MCP, REPLAY.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List the requirement catalogue: ID, level, options, title (and source with --json)."""
    import json
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from .catalog import AREAS, load_catalog

    if unknown := [o for o in option if o not in OPTION_NAMES]:
        typer.echo(f"error: unknown option {', '.join(unknown)} (known: {', '.join(OPTION_NAMES)})", err=True)
        raise typer.Exit(2)
    if area is not None and area.upper() not in AREAS:
        typer.echo(f"error: unknown area {area} (known: {', '.join(AREAS)})", err=True)
        raise typer.Exit(2)
    selected = [
        r
        for r in load_catalog().values()
        if (not option or set(option) & set(r.options)) and (area is None or r.area == area.upper())
    ]
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in selected], indent=2, ensure_ascii=False))
        return
    deciding = sum(r.decides_verdict for r in selected)
    summary = f"{len(selected)} requirements ({deciding} decide a verdict: MUST or MUST NOT without a policy)"
    if not sys.stdout.isatty():  # piped: one line per requirement, tab-separated, for grep and cut
        for r in selected:
            typer.echo("\t".join((r.id, r.level + (" (policy)" if r.policy else ""), ",".join(r.options), r.title)))
        typer.echo(summary)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "level", "options", "title"):
        table.add_column(column, overflow="fold")
    for r in selected:
        table.add_row(r.id, r.level + (" (policy)" if r.policy else ""), ", ".join(r.options), r.title)
    console = Console(highlight=False)
    console.print(table)
    console.print(summary)


@app.command()
def notebooks(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Notebooks to run, by name (default: every one).", show_default=False, metavar="NAME"),
    ] = None,
    target: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Target file of a deployment (default: the reference, started per notebook)."
        ),
    ] = None,
    report_dir: Annotated[
        Path,
        typer.Option(metavar="DIR", help="The executed notebooks and their HTML go to DIR/notebooks (as certify's)."),
    ] = Path("reports"),
    out: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="The folder itself for the executed notebooks (instead of --report-dir)."),
    ] = None,
    max_rps: Annotated[
        float | None,
        typer.Option(metavar="N", help="At most this many requests per second to the target. Default: no limit."),
    ] = None,
) -> None:
    """Execute the walkthrough notebooks (OAuth connector flow, multi-service, single-service options, the
    options compared) against a target; write the executed copies, outputs included, and their HTML
    renderings to DIR/notebooks.

    Exit code 0: every notebook ran to its end. 1: a cell failed (one line says which; the executed copy
    shows the traceback). 2: the target cannot be used, or no such notebook."""
    from .notebooks import available, run_notebooks
    from .preflight import PreflightError, preflight
    from .target import TargetError, load_target

    found = available()
    if unknown := [n for n in names or [] if n not in found]:
        typer.echo(f"error: no notebook named {', '.join(unknown)} (known: {', '.join(found)})", err=True)
        raise typer.Exit(2)
    if max_rps is not None and max_rps <= 0:
        typer.echo("error: --max-rps must be positive", err=True)
        raise typer.Exit(2)
    if target is not None:
        try:
            preflight(load_target(target))
        except (TargetError, PreflightError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    ran = run_notebooks(
        names or list(found),
        target,
        out if out is not None else report_dir / "notebooks",
        max_rps=max_rps,
        echo=typer.echo,
    )
    raise typer.Exit(0 if all(result.ok for result in ran) else 1)


@app.command()
def bridge() -> None:
    """Serve MCP on stdio, forwarding to a SpreadAPI deployment (the Claude Desktop bridge).

    Configured by the environment, as the npm spreadapi-mcp is: SPREADAPI_URL (the base URL, or an
    /api/mcp… endpoint as it is), SPREADAPI_SERVICE_ID (one service: {URL}/api/mcp/services/{id};
    without it the multi-service {URL}/api/mcp/bridge), SPREADAPI_TOKEN (a service token, none for a
    public service; an MCP token spapi_live_… for the bridge), SPREADAPI_LOG_LEVEL (stderr, default
    warning). Exits 1 with a message on stderr when the configuration is missing, the server cannot be
    reached or refuses the token.
    """
    from .bridge import main

    raise typer.Exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
