"""Deduplication: which records describe one book (manifestation) or one work.

``Clusterer`` groups records incrementally (work > manifestation > hit); the matching rules,
blocking keys, reject rules, transliteration table and merge policy are data in
``dedup/data/``. Imports only ``core``.
"""

from dedup.cluster import Clusterer
from dedup.keys import Features, features, normalize_isbn, normalize_text
from dedup.merge import merge_records
from dedup.normalize import parse_name, skeleton, title_skeleton
from dedup.rules import Rules, default_rules, load_rules

__all__ = [
    "Clusterer",
    "Features",
    "Rules",
    "default_rules",
    "features",
    "load_rules",
    "merge_records",
    "normalize_isbn",
    "normalize_text",
    "parse_name",
    "skeleton",
    "title_skeleton",
]
