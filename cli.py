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
from core.clusters import ResultPage, as_hit
from federator.engine import Engine, SearchOutcome, default_connector, relax_gc
from federator.targets import load_targets, select_targets
from normalizers.dump import DUMP_FORMATS, EXPORT_FORMATS, dump, export_hits

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
    best = hit.display  # the merged record of the cluster
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
        "editions": hit.editions,
        "available": hit.available,
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
        "hits": [_hit_json(as_hit(c)) for c in outcome.clusters],
        "targets": [_status_json(s) for s in outcome.statuses],
    }


def _print_table(outcome: SearchOutcome, names: dict[str, str]) -> None:
    width = max(60, min(shutil.get_terminal_size((100, 20)).columns, 140))
    works = [as_hit(c) for c in outcome.clusters]
    if not works:
        click.echo("No hits.")
    for n, hit in enumerate(works, 1):
        best = hit.display
        click.echo(f"{n:>3}. {_summary(hit, width - 5)}")
        libs = ", ".join(names.get(t, t) for t in hit.libraries)
        isbn = f"  ISBN {best.isbns[0]}" if best.isbns else ""
        click.echo(f"     {libs}{isbn}")
    done = sum(s.state is TargetState.DONE for s in outcome.statuses)
    total = len(outcome.statuses)
    click.echo(f"\n{_plural(len(works), 'hit')} from {done} of {total} libraries.")


def _summary(hit: Hit, width: int = 135) -> str:
    """``Война и мир — Толстой Л. Н. — 1957 — 6 editions, held by 4 libraries, 3 available
    now`` (the year only for a single edition; a long title is shortened, never the tail)."""
    best = hit.display
    parts = [best.title]
    if best.authors:
        parts.append(best.authors[0])
    if hit.editions == 1 and best.year:
        parts.append(str(best.year))
    tail = f"{_plural(hit.editions, 'edition')}, held by {_plural(len(hit.libraries), 'library')}"
    tail = tail.replace("librarys", "libraries")
    if hit.holdings_known:
        tail += f", {len(hit.available)} available now"
    head = textwrap.shorten(" — ".join(parts), max(20, width - len(tail) - 3))
    return f"{head} — {tail}"


def _progress(err_tty: bool) -> Callable[[ResultPage], None] | None:
    """Shows the leading clusters on stderr each time they change while results arrive."""
    if not err_tty:
        return None
    last: list[str] = []

    def show(page: ResultPage) -> None:
        lines = [f"  {n}. {_summary(as_hit(c))}" for n, c in enumerate(page.clusters[:5], 1)]
        if lines and lines != last:
            last[:] = lines
            click.echo(f"  -- so far: {_plural(page.total, 'work')}, best first --", err=True)
            for line in lines:
                click.echo(line, err=True)

    return show


def run_search(
    targets: list[Target],
    query: str,
    *,
    target_ids: list[str] | None,
    limit: int | None,
    on_status: Callable[[TargetStatus], None] | None,
    on_page: Callable[[ResultPage], None] | None = None,
) -> SearchOutcome:
    """Run one federated search to completion (bad input raises ``SvodError``)."""
    relax_gc()
    engine = Engine(targets, default_connector)
    return asyncio.run(
        engine.search(
            query, target_ids=target_ids, limit=limit, on_status=on_status, on_page=on_page
        )
    )


def _search(
    targets: list[Target],
    query: str,
    ids: list[str] | None,
    limit: int | None,
    fmt: str,
    progressive: bool | None = None,
    export: dict[str, str] | None = None,
) -> None:
    last: dict[str, str] = {}

    def show(status: TargetStatus) -> None:
        line = _status_line(status)
        if last.get(status.target_id) != line:
            last[status.target_id] = line
            click.echo(line, err=True)

    try:
        _index_collections(select_targets(targets, ids))
        live = sys.stderr.isatty() if progressive is None else progressive
        outcome = run_search(
            targets,
            query,
            target_ids=ids,
            limit=limit,
            on_status=show,
            on_page=_progress(live and fmt == "table"),
        )
    except (QueryError, ConfigError) as exc:
        _fail(f"bad {'query' if isinstance(exc, QueryError) else 'input'}: {exc}")
    if fmt == "json":
        click.echo(json.dumps(outcome_json(outcome), ensure_ascii=False, indent=2))
    elif fmt in EXPORT_FORMATS:
        _export(outcome, fmt, export or {})
    else:
        _print_table(outcome, {t.id: t.name for t in targets})
    if outcome.all_failed:
        sys.exit(1)


def _export(outcome: SearchOutcome, fmt: str, options: dict[str, str]) -> None:
    """One record per hit, for a cataloger (``--format iso2709|marcxml|line``)."""
    try:
        data = export_hits(
            [as_hit(c) for c in outcome.clusters],  # the hits the table and JSON show
            fmt,
            prefer=options.get("prefer", ""),
            convert_to=options.get("convert_to", ""),
            err=sys.stderr,
        )
    except SvodError as exc:
        _fail(str(exc))
    _write_output(data, options.get("output", ""))


def _write_output(data: bytes, path: str) -> None:
    if path and path != "-":
        Path(path).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", *EXPORT_FORMATS]),
    default="table",
    help="table/json: the merged hits; iso2709/marcxml/line: one MARC record per hit.",
)
@click.option(
    "--progressive/--no-progressive",
    default=None,
    help="Show the leading clusters on stderr as they form (default: when stderr is a terminal).",
)
@click.option("--prefer", default="", help="Export this target's record of a hit when it has one.")
@click.option(
    "--convert-to",
    type=click.Choice(["marc21", "rusmarc", "unimarc"]),
    help="Convert exported records to this MARC flavour.",
)
@click.option("-o", "--output", default="", help="Write exported records to this file.")
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    target_ids: str | None,
    limit: int | None,
    fmt: str,
    progressive: bool | None,
    prefer: str,
    convert_to: str | None,
    output: str,
) -> None:
    """Search every library at once; QUERY is CQL or plain words.

    \b
    Examples:
      svod search 'dc.title=computer and dc.creator=collins'
      svod search 'internet' --targets lib1,lib3 --format json
      svod search 'dc.title=war' --format iso2709 --prefer lib2 --convert-to rusmarc -o out.mrc
    """
    targets = _load(ctx)
    ids = [i.strip() for i in target_ids.split(",") if i.strip()] if target_ids else None
    export = {"prefer": prefer, "convert_to": convert_to or "", "output": output}
    _search(targets, query, ids, limit, fmt, progressive, export)


@main.command("marc")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--flavour",
    type=click.Choice(["auto", "marc21", "unimarc", "rusmarc"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--charset",
    default="auto",
    show_default=True,
    help="auto, utf-8, marc-8, iso-5426, cp1251, koi8-r, ... (auto: the record and its bytes).",
)
@click.option("--to", "to", type=click.Choice(DUMP_FORMATS), default="line", show_default=True)
@click.option("--convert-to", type=click.Choice(["marc21", "rusmarc", "unimarc"]))
@click.option("-o", "--output", default="", help="Write to this file instead of stdout.")
def marc_cmd(
    files: tuple[str, ...],
    flavour: str,
    charset: str,
    to: str,
    convert_to: str | None,
    output: str,
) -> None:
    """Read ISO2709 or MARCXML files and write their records, like yaz-marcdump.

    Flavour and charset are detected per record unless given. Broken records are reported
    on stderr with their byte offset and the others still come out (exit status 1 then).
    `--to canonical` prints one JSON object per line (title, authors, publisher, year,
    isbns, languages, subjects, holdings, flavour, charset, charset_suspect, ...).
    """
    out = open(output, "wb") if output and output != "-" else sys.stdout.buffer  # noqa: SIM115
    try:
        report = dump(
            ((name, Path(name).read_bytes()) for name in files),
            out,
            sys.stderr,
            flavour=flavour,
            charset=charset,
            to=to,
            convert_to=convert_to or "",
        )
    except SvodError as exc:
        _fail(str(exc))
    finally:
        out.flush()
        if out is not sys.stdout.buffer:
            out.close()
    if report.errors:
        sys.exit(1)


@main.command("cluster")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--level",
    type=click.Choice(["work", "manifestation"]),
    default="work",
    show_default=True,
    help="Group editions of one work, or only copies of one edition.",
)
def cluster_cmd(files: tuple[str, ...], level: str) -> None:
    """Find duplicates in catalog files (ISO2709 or MARCXML; each file is one library).

    Prints one JSON object per cluster per line:
    {"cluster": id, "level": ..., "title": ..., "members": [{"file": ..., "position": N}]}
    """
    from federator.dedupfiles import ClusterReport, cluster_files

    report = ClusterReport()
    for line in cluster_files(list(files), level, report):
        click.echo(json.dumps(line, ensure_ascii=False))
    if report.bad:
        click.echo(f"svod: {_plural(report.bad, 'record')} could not be read", err=True)


@main.group()
def targets() -> None:
    """List and check the configured libraries."""


@targets.command("list")
@click.pass_context
def targets_list(ctx: click.Context) -> None:
    """Print the configured targets."""
    for t in _load(ctx.find_root()):
        form = {"z3950": t.syntax, "local": t.flavour}.get(t.protocol, t.schema)
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


@targets.command("explain")
@click.argument("target_id")
@click.pass_context
def targets_explain(ctx: click.Context, target_id: str) -> None:
    """Show what library TARGET_ID says about itself (SRU explain: indexes, schemas)."""
    from federator.explain import describe_target

    try:
        (target,) = select_targets(_load(ctx.find_root()), [target_id])
    except ConfigError as exc:
        _fail(str(exc))
    try:
        click.echo(asyncio.run(describe_target(target)))
    except SvodError as exc:
        _fail(f"{target.id}: {exc}", 1)


@main.group("query")
def query_group() -> None:
    """Show how a query is translated for each library."""


@query_group.command("explain")
@click.argument("query")
@click.option("--target", "target_ids", help="Comma-separated target ids (default: all).")
@click.pass_context
def query_explain(ctx: click.Context, query: str, target_ids: str | None) -> None:
    """Print the PQF (Z39.50) or CQL (SRU) each library would be sent for QUERY.

    \b
    Examples:
      svod query explain 'ti=war and au=tolstoy' --target lib1
      svod query explain 'dc.title=war*'
    """
    from federator.explain import explain_query
    from federator.query import parse_query

    ids = [i.strip() for i in target_ids.split(",") if i.strip()] if target_ids else None
    try:
        chosen = select_targets(_load(ctx.find_root()), ids)
        parse_query(query)
    except (QueryError, ConfigError) as exc:
        _fail(f"bad {'query' if isinstance(exc, QueryError) else 'input'}: {exc}")
    failed = False
    for target in chosen:
        try:
            text = asyncio.run(explain_query(query, target))
        except SvodError as exc:
            failed = True
            text = f"cannot be sent: {exc}"
        click.echo(text if len(chosen) == 1 and not failed else f"{target.id:<12} {text}")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("query", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--workdir", type=click.Path(file_okay=False), help="Build the libraries here.")
@click.option(
    "--zebra",
    is_flag=True,
    help="Instead: three Zebra servers (Z39.50 and SRU) built from Debian's sample records.",
)
@click.option(
    "--serve",
    is_flag=True,
    help="With --zebra (implied): keep the servers running on ports 9901-9903 (as in "
    "config/targets.yaml) until Ctrl-C, so that `svod search` can be tried on them.",
)
def demo(query: str | None, fmt: str, workdir: str | None, zebra: bool, serve: bool) -> None:
    """Search four sample libraries of one region at once, offline.

    \b
    By default the libraries are local collections (RUSMARC and MARC21 exports bundled
    with Svod), indexed once into ~/.cache/svod/demo. --zebra runs the Z39.50/SRU demo.
    """
    if not (zebra or serve):
        _local_demo(query or LOCAL_DEMO_QUERY, fmt, Path(workdir) if workdir else None)
        return
    query = query or "computer"
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


# --- local collections ------------------------------------------------------------------

LOCAL_DEMO_QUERY = "война и мир"


class _Bar:
    """A click progress bar on stderr, fed with (done, total) by an index build."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.done = 0
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _index_one(target: Target, force: bool = False) -> Any:
    """Build or refresh one local collection with a progress bar; report skipped records."""
    from federator.collection import ensure_collection

    bar = _Bar(f"indexing {target.id}")
    try:
        report = ensure_collection(target, progress=bar, force=force)
    finally:
        bar.close()
    if report.rebuilt:
        for bad in report.bad:
            click.echo(f"  {target.id}: skipped record at {bad}", err=True)
    return report


def _index_collections(targets: list[Target]) -> None:
    """Bring local collections up to date before a search, so it is not slowed by a build."""
    for t in targets:
        if t.protocol == "local":
            try:
                _index_one(t)
            except SvodError as exc:  # the search reports it as that library's status
                click.echo(f"  {t.id:<12} cannot index: {exc}", err=True)


def _local_demo(query: str, fmt: str, workdir: Path | None) -> None:
    from connectors.local import cache_root
    from demo.collections import demo_config, demo_targets, render_clusters

    cache = workdir or cache_root() / "demo"
    targets = demo_targets(cache)
    click.echo(f"Demo federation: {len(targets)} libraries of one region, offline", err=True)
    for t in targets:
        click.echo(f"  {t.id:<12} {t.name} ({t.flavour}, {Path(t.files[0]).name})", err=True)
    _index_collections(targets)
    config = demo_config(cache, targets)
    home = str(Path.home())
    shown = f"~{str(config)[len(home) :]}" if str(config).startswith(home + os.sep) else config
    click.echo(f"Query: {query}", err=True)
    last: dict[str, str] = {}

    def show(status: TargetStatus) -> None:
        line = _status_line(status)
        if status.state.finished and last.get(status.target_id) != line:
            last[status.target_id] = line
            click.echo(line, err=True)

    try:
        outcome = run_search(targets, query, target_ids=None, limit=None, on_status=show)
    except (QueryError, ConfigError) as exc:
        _fail(f"bad query: {exc}")
    if fmt == "json":
        click.echo(json.dumps(outcome_json(outcome), ensure_ascii=False, indent=2))
    else:
        width = max(60, min(shutil.get_terminal_size((100, 20)).columns, 140))
        for line in render_clusters(outcome.clusters, {t.id: t.name for t in targets}, width):
            click.echo(line)
    click.echo(
        f"\nNext: svod --config {shown} search 'dc.creator=толстой and dc.date>1990'"
        "\n      your own libraries go in a targets file (see config/targets.yaml);"
        "\n      `svod demo --zebra` runs the same over Z39.50 and SRU servers.",
        err=True,
    )
    if outcome.all_failed:
        sys.exit(1)


@main.group()
def collection() -> None:
    """Local collections: catalog export files (ISO2709, MARCXML) searched without a server."""


@collection.command("index")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--name", "name", required=True, help="The collection's target id.")
@click.option("--dir", "index_dir", type=click.Path(file_okay=False), help="Index directory.")
@click.option("--flavour", type=click.Choice(["marc21", "unimarc", "rusmarc"]))
@click.option("--charset", help="Record charset (utf-8, cp1251, marc-8...); default: as recorded.")
@click.option("--force", is_flag=True, help="Rebuild even when the files did not change.")
@click.pass_context
def collection_index(
    ctx: click.Context,
    files: tuple[str, ...],
    name: str,
    index_dir: str | None,
    flavour: str | None,
    charset: str | None,
    force: bool,
) -> None:
    """Build or refresh the index of a local collection.

    \b
    With FILEs, the collection is those files; without, it is the `protocol: local`
    target NAME of the targets file. Records that cannot be read are reported with their
    offset and left out.
    \b
    Examples:
      svod collection index export.iso --name kemrsl --flavour rusmarc --charset cp1251
      svod collection index --name kemrsl
    """
    from dataclasses import replace

    from federator.collection import local_target

    if files:
        target = local_target(name, files, index_dir=index_dir or "")
    else:
        try:
            (target,) = select_targets(_load(ctx.find_root()), [name])
        except ConfigError as exc:
            _fail(str(exc))
        if target.protocol != "local":
            _fail(f"target '{name}' is a {target.protocol} library, not a local collection")
        if index_dir:
            target = replace(target, index_dir=str(Path(index_dir).resolve()))
    if flavour:
        target = replace(target, flavour=flavour)
    if charset:
        target = replace(target, charset=charset)
    try:
        report = _index_one(target, force=force)
    except SvodError as exc:
        _fail(f"{name}: {exc}", 1)
    verb = "indexed" if report.rebuilt else "up to date:"
    skipped = f", {len(report.bad)} skipped" if report.bad else ""
    click.echo(
        f"{name}: {verb} {_plural(report.records, 'record')}{skipped} "
        f"in {report.index_dir} ({report.seconds:.2f} s)"
    )
    if report.records == 0:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
