"""``svod``: the command line of the Svod union catalog. Thin: every command calls the engine."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from core import ConfigError, Hit, QueryError, SvodError, Target, TargetState, TargetStatus
from federator.engine import Engine, SearchOutcome, default_connector
from federator.targets import load_targets

__all__ = ["main"]

DEFAULT_CONFIG = "config/targets.yaml"


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"svod: {message}", err=True)
    sys.exit(code)


def _load(ctx: click.Context) -> list[Target]:
    path = ctx.obj["config"]
    try:
        return load_targets(path)
    except ConfigError as exc:
        _fail(str(exc))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _status_line(status: TargetStatus) -> str:
    state = status.state
    if state is TargetState.DONE:
        text = (
            f"{_plural(status.hits, 'hit')}, {_plural(status.records, 'record')}"
            f" ({status.elapsed:.2f} s)"
        )
        if status.message:
            text += f"; {status.message}"
    elif state in (TargetState.ERROR, TargetState.TIMEOUT):
        text = f"{state.value}: {status.message}"
    else:
        text = state.value
    return f"  {status.target_id:<12} {text}"


def _hit_json(hit: Hit) -> dict[str, Any]:
    best = hit.best
    return {
        "title": best.title,
        "authors": list(best.authors),
        "year": best.year,
        "isbns": sorted({i for r in hit.records for i in r.isbns}),
        "publisher": best.publisher,
        "place": best.place,
        "edition": best.edition,
        "languages": list(best.languages),
        "subjects": list(best.subjects),
        "libraries": hit.libraries,
        "score": round(hit.score, 3),
        "records": [{"target": r.target_id, "position": r.position} for r in hit.records],
    }


def _status_json(status: TargetStatus) -> dict[str, Any]:
    diag = status.diagnostic
    return {
        "id": status.target_id,
        "status": status.state.value,
        "hits": status.hits,
        "records": status.records,
        "message": status.message,
        "diagnostic": None
        if diag is None
        else {
            "set": diag.diagset,
            "code": diag.code,
            "message": diag.message,
            "addinfo": diag.addinfo,
        },
        "elapsed": round(status.elapsed, 3),
    }


def outcome_json(outcome: SearchOutcome) -> dict[str, Any]:
    """The JSON document ``svod search --format json`` prints."""
    return {
        "query": outcome.query,
        "hits": [_hit_json(h) for h in outcome.hits],
        "targets": [_status_json(s) for s in outcome.statuses],
    }


def _print_table(outcome: SearchOutcome, names: dict[str, str]) -> None:
    width = max(60, min(shutil.get_terminal_size((100, 20)).columns, 140))
    if not outcome.hits:
        click.echo("No hits.")
    for n, hit in enumerate(outcome.hits, 1):
        best = hit.best
        author = best.authors[0] if best.authors else ""
        head = f"{n:>3}. {best.title}"
        details = " — ".join(x for x in (author, str(best.year or "")) if x)
        click.echo(textwrap.shorten(head + (f" — {details}" if details else ""), width))
        libs = ", ".join(names.get(t, t) for t in hit.libraries)
        isbn = f"  ISBN {best.isbns[0]}" if best.isbns else ""
        click.echo(f"     held by {len(hit.libraries)}: {libs}{isbn}")
    done = sum(s.state is TargetState.DONE for s in outcome.statuses)
    total = len(outcome.statuses)
    click.echo(f"\n{_plural(len(outcome.hits), 'hit')} from {done} of {total} libraries.")


def run_search(
    targets: list[Target],
    query: str,
    *,
    target_ids: list[str] | None,
    limit: int | None,
    on_status: Callable[[TargetStatus], None] | None,
) -> SearchOutcome:
    """Run one federated search to completion (bad input raises ``SvodError``)."""
    engine = Engine(targets, default_connector)
    return asyncio.run(
        engine.search(query, target_ids=target_ids, limit=limit, on_status=on_status)
    )


def _search(
    targets: list[Target], query: str, ids: list[str] | None, limit: int | None, fmt: str
) -> None:
    last: dict[str, str] = {}

    def show(status: TargetStatus) -> None:
        line = _status_line(status)
        if last.get(status.target_id) != line:
            last[status.target_id] = line
            click.echo(line, err=True)

    try:
        outcome = run_search(targets, query, target_ids=ids, limit=limit, on_status=show)
    except (QueryError, ConfigError) as exc:
        _fail(f"bad {'query' if isinstance(exc, QueryError) else 'input'}: {exc}")
    if fmt == "json":
        click.echo(json.dumps(outcome_json(outcome), ensure_ascii=False, indent=2))
    else:
        _print_table(outcome, {t.id: t.name for t in targets})
    if outcome.all_failed:
        sys.exit(1)


@click.group()
@click.option(
    "--config",
    "config",
    envvar="SVOD_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Targets file (or set SVOD_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config: str) -> None:
    """Svod: one search box over many library catalogs (Z39.50 and SRU)."""
    ctx.obj = {"config": config}


@main.command()
@click.argument("query")
@click.option("--targets", "target_ids", help="Comma-separated target ids (default: all).")
@click.option("--limit", type=click.IntRange(0, 10_000), help="Records to fetch per target.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def search(
    ctx: click.Context, query: str, target_ids: str | None, limit: int | None, fmt: str
) -> None:
    """Search every library at once; QUERY is CQL or plain words.

    \b
    Examples:
      svod search 'dc.title=computer and dc.creator=collins'
      svod search 'internet' --targets lib1,lib3 --format json
    """
    targets = _load(ctx)
    ids = [i.strip() for i in target_ids.split(",") if i.strip()] if target_ids else None
    _search(targets, query, ids, limit, fmt)


@main.group()
def targets() -> None:
    """List and check the configured libraries."""


@targets.command("list")
@click.pass_context
def targets_list(ctx: click.Context) -> None:
    """Print the configured targets."""
    for t in _load(ctx.find_root()):
        form = t.syntax if t.protocol == "z3950" else t.schema
        click.echo(f"{t.id:<12} {t.protocol:<6} {t.address:<40} {form:<8} {t.name}")


async def _ping_all(targets: list[Target]) -> list[tuple[Target, str | None, str]]:
    async def one(t: Target) -> tuple[Target, str | None, str]:
        try:
            async with asyncio.timeout(t.timeouts.connect + t.timeouts.search):
                async with default_connector(t) as conn:
                    return t, None, await conn.ping()
        except TimeoutError:
            return t, "timeout", f"no answer within {t.timeouts.connect + t.timeouts.search:g} s"
        except SvodError as exc:
            return t, "error", str(exc)

    return list(await asyncio.gather(*(one(t) for t in targets)))


@targets.command("check")
@click.pass_context
def targets_check(ctx: click.Context) -> None:
    """Ping every target (Z39.50 Init, SRU explain); exit 1 if any is down."""
    results = asyncio.run(_ping_all(_load(ctx.find_root())))
    for t, problem, text in results:
        click.echo(f"{t.id:<12} {'ok' if problem is None else problem:<8} {text}")
    if any(problem for _, problem, _ in results):
        sys.exit(1)


@main.command()
@click.argument("query", required=False, default="computer")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--workdir", type=click.Path(file_okay=False), help="Build the libraries here.")
@click.option(
    "--serve",
    is_flag=True,
    help="Keep the libraries running on ports 9901-9903 (as in config/targets.yaml) "
    "until Ctrl-C, so that `svod search` can be tried on them.",
)
def demo(query: str, fmt: str, workdir: str | None, serve: bool) -> None:
    """Start three local Zebra libraries from Debian's sample records and search them."""
    from demo.run import run_demo

    # SIGTERM must unwind through `finally: stop()`, or the servers would be orphaned
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    click.echo("Starting three demo libraries (Zebra, Debian sample records)...", err=True)
    try:
        targets, stop = run_demo(Path(workdir) if workdir else None, fixed_ports=serve)
    except (OSError, RuntimeError) as exc:
        _fail(f"cannot start the demo libraries: {exc}", 1)
    try:
        names = ", ".join(f"{t.id} ({t.protocol} {t.address})" for t in targets)
        click.echo(f"Demo federation: {names}", err=True)
        click.echo(f"Query: {query}", err=True)
        _search(targets, query, None, None, fmt)
        if serve:
            click.echo(
                "\nLibraries running; in another shell try: svod search 'dc.title=computer'"
                "\nCtrl-C stops them.",
                err=True,
            )
            # blocked first, so that sigwait (not the default action) receives them
            stop_signals = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
            signal.sigwait(stop_signals)
        else:
            click.echo(
                "\nNext: `svod demo --serve` keeps these libraries up for `svod search`; "
                "list your own libraries in a targets file (see config/targets.yaml).",
                err=True,
            )
    finally:
        stop()


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
