"""What an SRU server says about itself (its ZeeRex explain record) and what Svod makes of it.

    explain record --derive_index_map--> CQL index renames for one query  (index_map: auto)
                   --explain_lines-----> the text ``svod targets explain ID`` prints

``index_map: auto`` asks the server (once per ``connectors.sru.EXPLAIN_TTL``) which indexes
it has, and renames each index of the query to the server's own name for it. For an index
the query uses, the first of these that the explain record offers wins:

    1. the index itself (``dc.title``), in whatever prefix the server gives that context set
    2. the same name without a context set (``title``)
    3. a synonym: an index our Bib-1 table (``core/data/cql-bib1.csv``) gives the same use
       attribute (``dc.creator`` -> ``author``, ``bath.author``)
    4. the same name in another context set (``bath.title``)
    5. an index whose ZeeRex map carries the same Bib-1 use attribute (``<attr type="1">4``)
    6. an index titled with the name (``<title>title</title>``)

An index the server has none of is refused for that target (``UnsupportedIndex``, SRU
diagnostic 16), so it becomes that target's status and the other targets still run. The
``cql`` context set (``cql.serverChoice``, ``cql.allRecords``) is CQL's own and always sent
as it is: servers rarely list it. An explain record listing no indexes renames nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from connectors.base import Connector, TargetQuery
from core import QueryError, Target
from federator.query import (
    context_set_name,
    parse_query,
    query_indexes,
    same_use,
    to_rpn,
    to_sru_cql,
    use_attribute,
)
from protocols.cql import Node
from protocols.sru import Explain, ExplainIndex
from protocols.z3950.rpn import to_pqf

__all__ = [
    "COMMON_INDEXES",
    "SupportsExplain",
    "derive_index_map",
    "describe_target",
    "explain_lines",
    "explain_query",
    "translate",
]

#: The indexes ``svod targets explain`` reports a server's names for.
COMMON_INDEXES = (
    "cql.serverChoice",
    "dc.title",
    "dc.creator",
    "dc.subject",
    "dc.publisher",
    "dc.date",
    "bath.isbn",
    "bath.issn",
)

ConnectorFactory = Callable[[Target], Connector]


@runtime_checkable
class SupportsExplain(Protocol):
    """A connector that can fetch its server's explain record (the SRU connector)."""

    async def explain(self, *, refresh: bool = False) -> Explain: ...


# --- deriving renames -----------------------------------------------------------------

_Entry = tuple[str, str, ExplainIndex]  # our lower-case name, the server's spelling, index


def _entries(explain: Explain) -> list[_Entry]:
    """Every searchable index name of the record, in our context set names."""
    sets = {name.lower(): uri for name, uri in explain.sets}
    out: list[_Entry] = []
    for index in explain.index_info:
        if not index.search:
            continue
        for name in index.names:
            prefix, dot, local = name.partition(".")
            if not dot:
                out.append((name.lower(), name, index))
                continue
            uri = sets.get(prefix.lower())
            ours = (context_set_name(uri) if uri else None) or prefix.lower()
            out.append((f"{ours}.{local.lower()}", name, index))
    return out


def _choose(want: str, entries: list[_Entry]) -> str | None:
    """The server's name for ``want`` (lower case ``set.name``), or None if it has none."""
    local = want.partition(".")[2] or want

    def named(name: str) -> str | None:
        return next((spelling for ours, spelling, _ in entries if ours == name), None)

    found = named(want) or named(local)
    for synonym in same_use(want):
        found = found or named(synonym)
    found = found or next(
        (spelling for ours, spelling, _ in entries if ours.partition(".")[2] == local), None
    )
    use = use_attribute(want)
    if found is None and use is not None:
        found = next((s for _, s, i in entries if (1, use) in i.attributes), None)
    if found is None:
        found = next((s for _, s, i in entries if i.title.strip().lower() == local), None)
    return found


def derive_index_map(explain: Explain, wanted: Iterable[str]) -> dict[str, str]:
    """CQL index renames for a server, from its explain record: ``{wanted: server name}``.

    ``wanted`` are lower-case ``set.name`` indexes (``federator.query.query_indexes``). An
    index the server has under the same name gets no entry; one it lacks maps to ``""``
    ("not supported"), which ``to_sru_cql`` turns into ``UnsupportedIndex``.

    >>> from protocols.sru import Explain, ExplainIndex
    >>> server = Explain(index_info=(ExplainIndex("title", ("title",)),
    ...                              ExplainIndex("author", ("author",))))
    >>> derive_index_map(server, ["dc.title", "dc.creator", "dc.date"])
    {'dc.title': 'title', 'dc.creator': 'author', 'dc.date': ''}
    """
    if not explain.index_info:
        return {}
    entries = _entries(explain)
    out: dict[str, str] = {}
    for want in wanted:
        want = want.lower()
        if want.startswith("cql."):
            continue
        found = _choose(want, entries)
        if found is None:
            out[want] = ""
        elif found.lower() != want:
            out[want] = found
    return out


# --- translation for one target ---------------------------------------------------------


async def translate(node: Node, target: Target, connector: Connector) -> TargetQuery:
    """The query as ``target`` receives it; with ``index_map: auto``, renamed from explain.

    Raises ``QueryError`` (``UnsupportedIndex``) for what the target cannot search and
    ``TargetError`` when its explain record cannot be fetched.
    """
    if target.protocol == "z3950":
        return to_rpn(node, target.index_map, target_id=target.id)
    if not target.index_map_auto:
        return to_sru_cql(node, target.index_map, target_id=target.id)
    if not isinstance(connector, SupportsExplain):
        raise QueryError(f"target '{target.id}': index_map: auto needs a connector with explain")
    derived = derive_index_map(await connector.explain(), query_indexes(node))
    # an explicit map entry, if a target ever has both, is the cataloguer's word
    return to_sru_cql(node, {**derived, **target.index_map}, target_id=target.id)


def _default_factory() -> ConnectorFactory:
    from federator.engine import default_connector  # engine imports this module

    return default_connector


async def explain_query(text: str, target: Target, factory: ConnectorFactory | None = None) -> str:
    """What ``target`` would be sent for ``text``: PQF for Z39.50, CQL for SRU.

    Only an ``index_map: auto`` target is contacted (for its explain record).
    """
    node = parse_query(text)
    if target.protocol == "z3950":
        return to_pqf(to_rpn(node, target.index_map, target_id=target.id))
    if not target.index_map_auto:
        return to_sru_cql(node, target.index_map, target_id=target.id)
    async with (factory or _default_factory())(target) as connector:
        query = await translate(node, target, connector)
    return query if isinstance(query, str) else to_pqf(query)


# --- describing a server ----------------------------------------------------------------


def explain_lines(explain: Explain) -> list[str]:
    """The explain record as text: server, indexes, schemas, defaults, and Svod's renames."""
    lines = []
    where = f"{explain.host}:{explain.port}" if explain.port else explain.host
    server = " ".join(
        part
        for part in (
            f"{explain.protocol or 'SRU'} {explain.version}".strip(),
            f"server {where}" if where else "",
            f"database {explain.database}" if explain.database else "",
        )
        if part
    )
    lines.append(f"title        {explain.title or '(none)'}")
    if explain.description:
        lines.append(f"description  {explain.description}")
    lines.append(f"server       {server}")
    if explain.sets:
        lines.append("sets         " + ", ".join(f"{n} = {uri}" for n, uri in explain.sets))
    lines.append(f"indexes      {len(explain.index_info)}")
    for index in explain.index_info:
        flags = [f for f, on in (("scan", index.scan), ("sort", index.sort)) if on]
        if not index.search:
            flags.insert(0, "no search")
        attrs = " ".join(f"{t}={v}" for t, v in index.attributes)
        extra = "  ".join(x for x in (attrs, f"({', '.join(flags)})" if flags else "") if x)
        lines.append(
            f"  {index.title or '-':<22} {', '.join(index.names) or '-'}  {extra}".rstrip()
        )
    lines.append(f"schemas      {len(explain.schema_info)}")
    for schema in explain.schema_info:
        lines.append(f"  {schema.name or '-':<22} {schema.identifier}  {schema.title}".rstrip())
    for kind, type_, value in explain.config:
        lines.append(f"{kind:<12} {type_}{'=' + value if value else ''}")
    renames = derive_index_map(explain, (i.lower() for i in COMMON_INDEXES))
    if explain.index_info:
        lines.append("index_map: auto would send")
        for wanted in COMMON_INDEXES:
            name = renames.get(wanted.lower(), wanted)
            lines.append(f"  {wanted:<22} {name or '(not supported)'}")
    for diagnostic in explain.diagnostics:
        lines.append(f"diagnostic   {diagnostic}")
    return lines


async def describe_target(target: Target, factory: ConnectorFactory | None = None) -> str:
    """``svod targets explain``: an SRU target's explain record as text; for a Z39.50 target
    a note that explain is SRU only, and its Init summary."""
    async with (factory or _default_factory())(target) as connector:
        if target.protocol == "z3950":
            summary = await connector.ping()
            note = "explain is SRU only; Z39.50 Explain not supported"
            return f"{target.id}: {note}\nInit: {summary}"
        if not isinstance(connector, SupportsExplain):
            return f"{target.id}: explain is SRU only\n{await connector.ping()}"
        explain = await connector.explain(refresh=True)
    head = f"{target.id} ({target.protocol} {target.address})"
    return "\n".join([head, *explain_lines(explain)])
