"""Parsing XML from the network or from files we did not write, safely.

lxml with no entity resolution, no DTD loading, no network and no huge-tree mode; a size cap;
and any document carrying a DOCTYPE refused outright (entity declarations are how
billion-laughs attacks start, and no SRU or MARCXML document needs one).
"""

from __future__ import annotations

from lxml import etree

from core.errors import SvodError

__all__ = ["excerpt", "parse_untrusted", "safe_parser"]


def safe_parser() -> etree.XMLParser:
    """A parser that never expands entities, loads DTDs or touches the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def excerpt(data: bytes, size: int = 80) -> str:
    """The start of ``data`` on one line, for error messages."""
    text = " ".join(data[:size].decode("utf-8", "replace").split())
    return text + ("..." if len(data) > size else "")


def parse_untrusted(
    data: bytes, *, what: str, limit: int, error: type[SvodError]
) -> etree._Element:
    """Parse ``data`` or raise ``error`` with a message naming ``what`` was wrong.

    >>> parse_untrusted(b"<a/>", what="test", limit=100, error=SvodError).tag
    'a'
    """
    if len(data) > limit:
        raise error(f"{what} of {len(data)} bytes exceeds the size limit of {limit}")
    try:
        root = etree.fromstring(data, safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        raise error(f"{what} is not XML: {excerpt(data)!r} (not well-formed)") from None
    if root is None:
        raise error(f"{what} is empty")
    if root.getroottree().docinfo.internalDTD is not None:
        name = etree.QName(root).localname
        raise error(
            f"{what} is a <{name}> document with a DOCTYPE (refused: entity expansion risk)"
        )
    return root
