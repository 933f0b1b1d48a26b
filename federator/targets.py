"""Load ``targets.yaml`` into frozen, validated ``core.Target`` objects.

Every problem is a ``core.ConfigError`` whose message names the file, the target and the
key, e.g. ``targets.yaml: target 'kemrsl': 'port' must be an integer, got 'abc'``.

>>> targets = load_targets_text("targets: [{id: a, protocol: sru, url: 'http://h/db'}]")
>>> targets[0].version
'1.2'
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from core import ConfigError, Target, Timeouts

__all__ = ["load_targets", "load_targets_text", "select_targets"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SYNTAXES = ("usmarc", "unimarc", "rusmarc", "xml", "opac", "sutrs")
_FLAVOURS = ("marc21", "unimarc", "rusmarc")
_SRU_VERSIONS = ("1.1", "1.2", "2.0")
#: charsets that Python's codecs do not know but the normalizers do
_MARC_CHARSETS = ("marc-8", "iso-5426")

_COMMON = {"id", "name", "protocol", "flavour", "charset", "index_map", "timeout", "timeouts"}
_KEYS = {
    "z3950": _COMMON | {"host", "port", "database", "syntax", "max_records"},
    "sru": _COMMON | {"url", "version", "schema", "max_records"},
}


class _Where:
    """Formats messages with the file and target they are about."""

    def __init__(self, source: str, target: str | None = None) -> None:
        self.source = source
        self.target = target

    def error(self, message: str) -> ConfigError:
        where = f"{self.source}: "
        if self.target is not None:
            where += f"target '{self.target}': "
        return ConfigError(where + message)


def _str(entry: Mapping[str, Any], key: str, where: _Where, default: str | None = None) -> str:
    value = entry.get(key, default)
    if value is None:
        raise where.error(f"'{key}' is required")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(f"'{key}' must be a string, got {value!r}")
    text = str(value).strip()
    if not text and default is None:
        raise where.error(f"'{key}' must not be empty")
    return text


def _int(entry: Mapping[str, Any], key: str, where: _Where, default: int, lo: int, hi: int) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        else:
            raise where.error(f"'{key}' must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise where.error(f"'{key}' must be between {lo} and {hi}, got {value}")
    return value


def _seconds(value: Any, key: str, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise where.error(f"'{key}' must be a positive number of seconds, got {value!r}")
    return float(value)


def _choice(
    entry: Mapping[str, Any], key: str, where: _Where, choices: tuple[str, ...], default: str
) -> str:
    value = _str(entry, key, where, default).lower()
    if value not in choices:
        raise where.error(f"'{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def _timeouts(entry: Mapping[str, Any], where: _Where) -> Timeouts:
    base = Timeouts()
    if "timeout" in entry:
        t = _seconds(entry["timeout"], "timeout", where)
        base = Timeouts(connect=min(t, base.connect), search=t, present=t)
    raw = entry.get("timeouts")
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise where.error(f"'timeouts' must be a mapping of connect/search/present, got {raw!r}")
    unknown = set(raw) - {"connect", "search", "present"}
    if unknown:
        raise where.error(f"'timeouts' has unknown key {sorted(unknown)[0]!r}")
    values = {k: _seconds(v, f"timeouts.{k}", where) for k, v in raw.items()}
    return Timeouts(
        connect=values.get("connect", base.connect),
        search=values.get("search", base.search),
        present=values.get("present", base.present),
    )


def _index_map(entry: Mapping[str, Any], where: _Where) -> dict[str, str]:
    raw = entry.get("index_map", {})
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise where.error(
            f"'index_map' must be a mapping of CQL index to target index, got {raw!r}"
        )
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, str | int):
            raise where.error(f"'index_map' entry {k!r}: {v!r} must map a name to a string")
        out[k] = str(v)
    return out


def _check_bib1(index_map: dict[str, str], where: _Where) -> None:
    from federator.query import parse_attributes

    for index, spec in index_map.items():
        if not spec:
            continue  # empty: "this target cannot search that index"
        try:
            parse_attributes(spec)
        except ValueError as exc:
            raise where.error(f"'index_map' entry {index!r}: {exc}") from None


def _charset(entry: Mapping[str, Any], where: _Where) -> str:
    value = _str(entry, "charset", where, "").lower()
    if not value or value in _MARC_CHARSETS:
        return value
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise where.error(f"'charset' {value!r} is not a known character set") from None


def _check_keys(entry: Mapping[str, Any], protocol: str, where: _Where) -> None:
    allowed = _KEYS[protocol]
    for key in entry:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise where.error(f"unknown key '{key}' for a {protocol} target{extra}")


def _target(entry: Any, index: int, source: str) -> Target:
    if not isinstance(entry, Mapping):
        raise _Where(source).error(f"target #{index + 1} must be a mapping, got {entry!r}")
    where = _Where(source, str(entry.get("id", f"#{index + 1}")))
    tid = _str(entry, "id", where)
    if not _ID.match(tid):
        raise where.error(f"'id' must be letters, digits, '_', '.', '-', got {tid!r}")
    protocol = _choice(entry, "protocol", where, ("z3950", "sru"), "")
    _check_keys(entry, protocol, where)
    syntax = _choice(entry, "syntax", where, _SYNTAXES, "usmarc")
    flavour_default = syntax if syntax in _FLAVOURS else "marc21"
    common: dict[str, Any] = {
        "id": tid,
        "name": _str(entry, "name", where, tid) or tid,
        "flavour": _choice(entry, "flavour", where, _FLAVOURS, flavour_default),
        "charset": _charset(entry, where),
        "index_map": _index_map(entry, where),
        "timeouts": _timeouts(entry, where),
        "max_records": _int(entry, "max_records", where, 20, 0, 10_000),
    }
    if protocol == "z3950":
        _check_bib1(common["index_map"], where)
        return Target(
            protocol="z3950",
            host=_str(entry, "host", where),
            port=_int(entry, "port", where, 210, 1, 65535),
            database=_str(entry, "database", where, "Default") or "Default",
            syntax=syntax,
            **common,
        )
    url = _str(entry, "url", where)
    if not re.match(r"^https?://[^/\s]+", url):
        raise where.error(f"'url' must be an http:// or https:// address, got {url!r}")
    version = entry.get("version", "1.2")
    version = f"{version:.1f}" if isinstance(version, float) else str(version)
    if version not in _SRU_VERSIONS:
        raise where.error(f"'version' must be one of {', '.join(_SRU_VERSIONS)}, got {version!r}")
    return Target(
        protocol="sru",
        url=url,
        version=version,
        schema=_str(entry, "schema", where, "marcxml") or "marcxml",
        **common,
    )


def load_targets_text(text: str, source: str = "targets.yaml") -> list[Target]:
    """Parse the YAML text of a targets file; ``source`` names it in error messages."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: {line}not valid YAML: {problem}") from None
    if not isinstance(doc, Mapping) or "targets" not in doc:
        raise ConfigError(f"{source}: expected a mapping with a 'targets' list at the top")
    entries = doc["targets"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: 'targets' must be a non-empty list")
    targets = [_target(e, i, source) for i, e in enumerate(entries)]
    seen: set[str] = set()
    for t in targets:
        if t.id in seen:
            raise ConfigError(f"{source}: target '{t.id}': 'id' is used twice")
        seen.add(t.id)
    return targets


def load_targets(path: str | Path) -> list[Target]:
    """Load and validate a targets file."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such targets file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    return load_targets_text(text, p.name)


def select_targets(targets: list[Target], ids: list[str] | None) -> list[Target]:
    """The targets named in ``ids`` (all when None), in the order given; unknown ids fail."""
    if not ids:
        return list(targets)
    by_id = {t.id: t for t in targets}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ConfigError(f"unknown target id '{unknown[0]}' (known: {', '.join(sorted(by_id))})")
    return [by_id[i] for i in dict.fromkeys(ids)]
