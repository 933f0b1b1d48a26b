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
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from core import ConfigError, Target, Timeouts
from core.target import Auth

__all__ = ["load_targets", "load_targets_text", "select_targets"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SYNTAXES = ("usmarc", "unimarc", "rusmarc", "xml", "opac", "sutrs")
_FLAVOURS = ("marc21", "unimarc", "rusmarc")
_SRU_VERSIONS = ("1.1", "1.2", "2.0")
#: charsets that Python's codecs do not know but the normalizers do
_MARC_CHARSETS = ("marc-8", "iso-5426")

_COMMON = {"id", "name", "protocol", "flavour", "charset", "index_map", "timeout", "timeouts"}
#: how a Z39.50 association is set up and records are asked for (see core.Target)
_Z3950_SESSION = {
    "auth",
    "negotiate_charset",
    "element_set",
    "piggyback",
    "batch_size",
    "preferred_message_size",
    "max_record_size",
    "pool_size",
    "pool_idle",
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ELEMENT_SET = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_KEYS = {
    "z3950": _COMMON | {"host", "port", "database", "syntax", "max_records"} | _Z3950_SESSION,
    "sru": _COMMON | {"url", "version", "schema", "max_records", "method", "packing"},
    "local": _COMMON | {"files", "index_dir", "max_records"},
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


def _flavour(entry: Mapping[str, Any], where: _Where, default: str) -> str:
    if entry.get("flavour") in (None, "", "auto"):
        return default
    return _choice(entry, "flavour", where, _FLAVOURS, default)


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
    if raw is None or _is_auto(raw):
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


def _is_auto(raw: Any) -> bool:
    return isinstance(raw, str) and raw.strip().lower() == "auto"


def _index_map_auto(entry: Mapping[str, Any], protocol: str, where: _Where) -> bool:
    """``index_map: auto``: renames derived from the server's explain (SRU targets only)."""
    raw = entry.get("index_map")
    if isinstance(raw, str) and not _is_auto(raw):
        raise where.error(
            f"'index_map' must be a mapping of CQL index to target index or 'auto', got {raw!r}"
        )
    if _is_auto(raw) and protocol != "sru":
        raise where.error(
            f"'index_map: auto' needs SRU explain; a {protocol} target takes a mapping"
        )
    return _is_auto(raw)


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


def _bool(entry: Mapping[str, Any], key: str, where: _Where, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise where.error(f"'{key}' must be true or false, got {value!r}")
    return value


def _auth(entry: Mapping[str, Any], where: _Where) -> Auth | None:
    """``auth: {user_env: X, password_env: Y, group_env: Z, method: open | idpass}``."""
    raw = entry.get("auth")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise where.error(
            f"'auth' must be a mapping of user_env/password_env/group_env/method, got {raw!r}"
        )
    unknown = set(raw) - {"user_env", "password_env", "group_env", "method"}
    if unknown:
        raise where.error(f"'auth' has unknown key {sorted(unknown)[0]!r}")
    names: dict[str, str] = {}
    for key in ("user_env", "password_env", "group_env"):
        value = _str(raw, key, where, None if key == "user_env" else "")
        if value and not _ENV_NAME.match(value):
            raise where.error(f"'auth.{key}' must name an environment variable, got {value!r}")
        names[key] = value
    method = _choice(raw, "method", where, ("open", "idpass"), "idpass")
    if method == "open" and names["group_env"]:
        raise where.error("'auth.group_env' needs 'method: idpass' (open sends user/password)")
    return Auth(method="open" if method == "open" else "idpass", **names)


def _negotiate_charset(entry: Mapping[str, Any], where: _Where) -> str:
    """``negotiate_charset: true`` proposes UTF-8; a name proposes that set; false: off."""
    raw = entry.get("negotiate_charset", False)
    if isinstance(raw, bool):
        return "UTF-8" if raw else ""
    if not isinstance(raw, str) or not raw.strip():
        raise where.error(f"'negotiate_charset' must be true, false or a charset, got {raw!r}")
    try:
        codecs.lookup(raw.strip())
    except LookupError:
        raise where.error(f"'negotiate_charset' {raw!r} is not a known character set") from None
    return raw.strip().upper()


def _z3950_session(entry: Mapping[str, Any], where: _Where) -> dict[str, Any]:
    element_set = _str(entry, "element_set", where, "")
    if element_set and not _ELEMENT_SET.match(element_set):
        raise where.error(f"'element_set' must be a short name like F or B, got {element_set!r}")
    idle = entry.get("pool_idle", 60.0)
    return {
        "auth": _auth(entry, where),
        "negotiate_charset": _negotiate_charset(entry, where),
        "element_set": element_set,
        "piggyback": _bool(entry, "piggyback", where, True),
        "batch_size": _int(entry, "batch_size", where, 25, 1, 1000),
        "preferred_message_size": _int(
            entry, "preferred_message_size", where, 8 * 1024 * 1024, 4096, 256 * 1024 * 1024
        ),
        "max_record_size": _int(
            entry, "max_record_size", where, 8 * 1024 * 1024, 4096, 256 * 1024 * 1024
        ),
        "pool_size": _int(entry, "pool_size", where, 2, 0, 16),
        "pool_idle": min(_seconds(idle, "pool_idle", where), 3600.0),
    }


def _target(entry: Any, index: int, source: str) -> Target:
    if not isinstance(entry, Mapping):
        raise _Where(source).error(f"target #{index + 1} must be a mapping, got {entry!r}")
    where = _Where(source, str(entry.get("id", f"#{index + 1}")))
    tid = _str(entry, "id", where)
    if not _ID.match(tid):
        raise where.error(f"'id' must be letters, digits, '_', '.', '-', got {tid!r}")
    protocol = _choice(entry, "protocol", where, ("z3950", "sru", "local"), "")
    _check_keys(entry, protocol, where)
    syntax = _choice(entry, "syntax", where, _SYNTAXES, "usmarc")
    # without a declaration the normalizer tells the flavour from the record itself
    flavour_default = syntax if syntax in ("unimarc", "rusmarc") else ""
    auto = _index_map_auto(entry, protocol, where)
    common: dict[str, Any] = {
        "id": tid,
        "name": _str(entry, "name", where, tid) or tid,
        "flavour": _flavour(entry, where, flavour_default),
        "charset": _charset(entry, where),
        "index_map": _index_map(entry, where),
        "timeouts": _timeouts(entry, where),
        "max_records": _int(entry, "max_records", where, 20, 0, 10_000),
    }
    if protocol == "local":
        return _local(entry, where, common)
    if protocol == "z3950":
        _check_bib1(common["index_map"], where)
        return Target(
            protocol="z3950",
            host=_str(entry, "host", where),
            port=_int(entry, "port", where, 210, 1, 65535),
            database=_str(entry, "database", where, "Default") or "Default",
            syntax=syntax,
            **_z3950_session(entry, where),
            **common,
        )
    url = _str(entry, "url", where)
    if not re.match(r"^https?://[^/\s]+", url):
        raise where.error(f"'url' must be an http:// or https:// address, got {url!r}")
    version = entry.get("version", "1.2")
    version = f"{version:.1f}" if isinstance(version, float) else str(version)
    if version not in _SRU_VERSIONS:
        raise where.error(f"'version' must be one of {', '.join(_SRU_VERSIONS)}, got {version!r}")
    # typed Any: _choice has checked the values against the Literal types of Target
    http: dict[str, Any] = {
        "method": _choice(entry, "method", where, ("get", "post"), "get"),
        "packing": _choice(entry, "packing", where, ("xml", "string"), "xml"),
    }
    return Target(
        protocol="sru",
        url=url,
        version=version,
        schema=_str(entry, "schema", where, "marcxml") or "marcxml",
        index_map_auto=auto,
        **http,
        **common,
    )


def _local(entry: Mapping[str, Any], where: _Where, common: dict[str, Any]) -> Target:
    """``protocol: local``: ``files`` (a path or a list; globs allowed), ``index_dir``."""
    raw = entry.get("files")
    if raw is None:
        raise where.error("'files' is required for a local collection")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise where.error(f"'files' must be a path or a non-empty list of paths, got {raw!r}")
    files: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise where.error(f"'files' entries must be paths, got {item!r}")
        files.append(item.strip())
    return Target(
        protocol="local",
        files=tuple(files),
        index_dir=_str(entry, "index_dir", where, ""),
        **common,
    )


def _anchor(target: Target, base_dir: Path) -> Target:
    """Local collection paths relative to the targets file's directory, made absolute."""
    if target.protocol != "local":
        return target
    files = tuple(str((base_dir / Path(f).expanduser()).resolve()) for f in target.files)
    index_dir = target.index_dir
    if index_dir:
        index_dir = str((base_dir / Path(index_dir).expanduser()).resolve())
    return replace(target, files=files, index_dir=index_dir)


def load_targets_text(
    text: str, source: str = "targets.yaml", base_dir: str | Path | None = None
) -> list[Target]:
    """Parse the YAML text of a targets file; ``source`` names it in error messages.

    Relative ``files`` and ``index_dir`` of local collections are taken from ``base_dir``
    (the targets file's directory; the current directory when None).
    """
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
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    targets = [_anchor(_target(e, i, source), base) for i, e in enumerate(entries)]
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
    return load_targets_text(text, p.name, p.parent)


def select_targets(targets: list[Target], ids: list[str] | None) -> list[Target]:
    """The targets named in ``ids`` (all when None), in the order given; unknown ids fail."""
    if not ids:
        return list(targets)
    by_id = {t.id: t for t in targets}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ConfigError(f"unknown target id '{unknown[0]}' (known: {', '.join(sorted(by_id))})")
    return [by_id[i] for i in dict.fromkeys(ids)]
