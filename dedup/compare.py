"""Pairwise decisions: are two records one edition? Are two editions one work?

Every decision is a similarity in 0..1 or ``None`` when a reject rule fires; the rules and
weights come from ``dedup/data/rules.yaml`` (see ``dedup.rules``).
"""

from __future__ import annotations

from collections import Counter

from rapidfuzz import fuzz

from dedup.keys import Features
from dedup.rules import Reject, Rules, WorkRules

__all__ = [
    "authors_agree",
    "publisher_similarity",
    "same_manifestation",
    "same_work",
    "title_similarity",
    "words_conflict",
]


#: how alike a title is to a longer one it begins (the subtitle left out)
PREFIX_SIMILARITY = 95.0


def title_similarity(a: Features, b: Features) -> float:
    """0..100: the better of full-title and title-proper similarity (one cataloger may have
    left out the subtitle)."""
    if not a.title or not b.title:
        return 0.0
    if a.title == b.title or (a.proper and a.proper == b.proper):
        return 100.0
    full = fuzz.ratio(a.title, b.title)
    if full >= 99.0:
        return full
    best = max(full, fuzz.ratio(a.proper, b.proper))
    # one cataloger left out a subtitle the record does not mark as one ("Plane
    # trigonometry" / "Plane trigonometry, and its application to ...")
    short, long = (a.title, b.title) if len(a.title) <= len(b.title) else (b.title, a.title)
    if " " in short and long.startswith(short + " "):
        best = max(best, PREFIX_SIMILARITY)
    return best


def authors_agree(a: Features, b: Features, similarity: float = 85.0) -> bool | None:
    """True when the main authors agree (surname skeletons alike, initials compatible),
    False when they disagree, None when one record names no author."""
    if not a.author or not b.author:
        return None
    if a.initial and b.initial and a.initial != b.initial:
        return False
    if a.author == b.author:
        return True
    # a typo in a long surname still agrees; short surnames must be exact
    if min(len(a.author), len(b.author)) < 5:
        return False
    return fuzz.ratio(a.author, b.author) >= similarity


def publisher_similarity(a: str, b: str) -> float:
    """0..100, abbreviations agreeing: ``"khudozh lit"`` is ``"khudozhestvennaa literatura"``."""
    if a == b:
        return 100.0
    short, long = (a.split(), b.split()) if len(a) <= len(b) else (b.split(), a.split())
    prefixed = sum(any(w.startswith(s) for w in long) for s in short)
    abbreviated = 100.0 * prefixed / len(short) if short else 0.0
    return max(abbreviated, fuzz.token_set_ratio(a, b))


def _unmatched(words: list[str], other: list[str], similarity: float) -> bool:
    left = Counter(other)
    rest = []
    for w in words:
        if left[w] > 0:
            left[w] -= 1
        else:
            rest.append(w)
    for w in rest:
        # short words and numbers must agree exactly (or be two letters swapped: "adn");
        # longer ones may carry a typo
        if len(w) <= 3:
            swapped = next(
                (
                    v
                    for v, n in left.items()
                    if n > 0 and len(v) == len(w) == 3 and sorted(v) == sorted(w)
                ),
                None,
            )
            if swapped is None or w.isdigit():
                return True
            left[swapped] -= 1
            continue
        match = next(
            (v for v, n in left.items() if n > 0 and len(v) > 3 and fuzz.ratio(w, v) >= similarity),
            None,
        )
        if match is None:
            return True
        left[match] -= 1
    return False


def words_conflict(x: str, y: str, similarity: float = 80.0) -> bool:
    """True when each title has a word the other lacks (a substitution, not an omission).

    >>> words_conflict("lessons on manners", "lessons on morals")
    True
    >>> words_conflict("evangeline a tale of acadie", "evangeline")
    False
    """
    if x == y:
        return False
    wx, wy = x.split(), y.split()
    return _unmatched(wx, wy, similarity) and _unmatched(wy, wx, similarity)


def _rejected(
    a: Features,
    b: Features,
    rules: tuple[Reject, ...],
    title: float,
    titles: tuple[str, str] | None = None,
) -> bool:
    for r in rules:
        name = r.rule
        if name == "title_below":
            if title < r.min:
                return True
        elif name == "title_words_differ":
            ta, tb = titles or (a.title, b.title)
            if words_conflict(ta, tb, r.min or 80.0):
                return True
        elif name == "subtitles_differ":
            # both editions carry a subtitle and they disagree: volumes of a series
            # ("Wolves : the hunters" / "Wolves : family and pack"), not one work; a
            # cataloger's words in brackets ("[первая редакция романа]") name no volume
            uniform = titles is not None and (a.uniform in titles or b.uniform in titles)
            if (
                not uniform
                and a.stated != a.proper
                and b.stated != b.proper
                and words_conflict(a.stated, b.stated, r.min or 80.0)
            ):
                return True
        elif name == "publishers_differ":
            if (
                a.publisher
                and b.publisher
                and publisher_similarity(a.publisher, b.publisher) < r.min
            ):
                return True
        elif name == "years_differ":
            if a.year and b.year and a.year != b.year:
                return True
        elif name == "pages_differ":
            if a.pages and b.pages and abs(a.pages - b.pages) > r.more_than:
                return True
        elif name == "formats_differ":
            if a.format and b.format and a.format != b.format:
                return True
        elif name == "issns_disjoint":
            if a.issns and b.issns and not a.issns & b.issns:
                return True
        elif name == "isbns_disjoint":
            if a.isbns and b.isbns and not a.isbns & b.isbns:
                return True
        elif name == "editions_differ":
            if a.edition and b.edition and a.edition != b.edition:
                return True
            # "2nd ed." against no edition statement: catalogers leave out "1st ed.", not "2nd"
            numbered = max(a.edition or 0, b.edition or 0)
            if r.more_than and numbered > r.more_than and not (a.edition and b.edition):
                return True
        elif name == "authors_differ":
            if authors_agree(a, b) is False:
                return True
        elif (
            name == "languages_disjoint"
            and a.languages
            and b.languages
            and not a.languages & b.languages
        ):
            return True
    return False


def same_manifestation(a: Features, b: Features, rules: Rules, *, shared_id: bool) -> float | None:
    """How alike two records are as one edition (0..1), or None when they must not merge.

    ``shared_id``: the records share an identifier, so only the identifier route's reject
    rules apply (a bad shared ISBN is caught by ``title_below``); otherwise the fuzzy route
    decides by weighted similarity against its threshold.
    """
    title = title_similarity(a, b)
    if shared_id:
        if _rejected(a, b, rules.identifier_reject, title):
            return None
        return 1.0
    route = rules.fuzzy
    if not (a.evidence and b.evidence):
        return None
    if _rejected(a, b, route.reject, title):
        return None
    w = route.weights
    total = w.get("title", 0.0) * title / 100.0
    weight = w.get("title", 0.0)
    agree = authors_agree(a, b)
    if agree is not None or (a.author or b.author):
        weight += w.get("author", 0.0)
        total += w.get("author", 0.0) * (1.0 if agree else 0.0 if agree is False else 0.5)
    if a.publisher and b.publisher:
        weight += w.get("publisher", 0.0)
        total += w.get("publisher", 0.0) * publisher_similarity(a.publisher, b.publisher) / 100
    if a.pages and b.pages:
        weight += w.get("pages", 0.0)
        total += w.get("pages", 0.0)  # within the reject rule's tolerance
    score = total / weight if weight else 0.0
    return score if score >= route.threshold else None


def same_work(a: Features, b: Features, rules: WorkRules) -> float | None:
    """How alike two editions are as one work (0..100), or None when they are not.

    Same main author (typos tolerated, initials must agree) and the same title proper or
    uniform title; editions without an author are one work only when their titles are
    equal and their publishers agree (``anonymous_publisher``).
    """
    agree = authors_agree(a, b, rules.author_similarity)
    if agree is False:
        return None
    if agree is None:
        # a work without an author: only the same title from the same publisher
        anonymous = not a.author and not b.author and rules.anonymous_publisher > 0
        if not anonymous or not (a.publisher and b.publisher):
            return None
        if publisher_similarity(a.publisher, b.publisher) < rules.anonymous_publisher:
            return None
        if not set(a.work_titles) & set(b.work_titles):
            return None
    best = 0.0
    pair = ("", "")
    for ta in a.work_titles:
        for tb in b.work_titles:
            s = 100.0 if ta == tb else fuzz.ratio(ta, tb)
            if s > best:
                best, pair = s, (ta, tb)
    if best < rules.min_title:
        return None
    if _rejected(a, b, rules.reject, best, pair):
        return None
    return best
