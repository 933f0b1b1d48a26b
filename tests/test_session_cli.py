"""`svod search` over three real zebrasrv libraries: ranked works as they form, JSON keys."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from demo.zebra import Federation


def _config(federation: Federation, path: Path) -> Path:
    lines = ["targets:"]
    for lib in federation:
        lines += [
            f"  - {{id: {lib.name}, protocol: z3950, host: 127.0.0.1, port: {lib.port},",
            f"      database: {lib.database}, syntax: usmarc}}",
        ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture(scope="module")
def config(zebra_libraries: Federation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _config(zebra_libraries, tmp_path_factory.mktemp("cfg") / "targets.yaml")


def _svod(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cli", "--config", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_progressive_display_shows_ranked_works_as_they_form(config: Path) -> None:
    result = _svod(config, "search", "computer", "--progressive")
    assert result.returncode == 0, result.stderr
    snapshots = [line for line in result.stderr.splitlines() if "so far:" in line]
    assert snapshots, result.stderr
    ranked = [line for line in result.stderr.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert ranked and all(re.search(r"\d+ editions?, held by \d+ librar", x) for x in ranked)
    # the final table: one line per work in the same form
    table = [line for line in result.stdout.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert table and all(re.search(r"— \d+ editions?, held by \d+ librar", x) for x in table)
    quiet = _svod(config, "search", "computer", "--no-progressive")
    assert "so far:" not in quiet.stderr
    assert quiet.stdout == result.stdout  # same ranked list, whatever the arrival order


def test_json_hits_are_works_with_editions_and_availability(config: Path) -> None:
    result = _svod(config, "search", "computer", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) >= {"query", "hits", "targets"}
    for hit in doc["hits"]:
        assert {"title", "authors", "year", "isbns", "libraries"} <= set(hit)
        assert hit["editions"] >= 1 and isinstance(hit["available"], list)
        assert len({(r["target"], r["position"]) for r in hit["records"]}) == len(hit["records"])
    scores = [h["score"] for h in doc["hits"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    fetched = sum(len(h["records"]) for h in doc["hits"])
    assert fetched == sum(t["records"] for t in doc["targets"])
