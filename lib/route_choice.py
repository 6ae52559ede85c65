"""Which route serves a request: `model` naming a route, else `domain`, else the first route (in file
order) with a keyword in the prompt, else the default. Keywords are case-insensitive; one that begins
with a Latin letter or digit must begin a word of the prompt, any other (CJK) may stand anywhere.

Keywords are matched by one compiled regular expression built as a trie of every route's keywords, so
a 2,048-character prompt is scanned once whatever the number of routes (`make bench` measures it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from lib.errors import InvalidRequest
from lib.route_table import Route, RouteTable


class RouteChooser:
    def __init__(self, table: RouteTable) -> None:
        self._table = table
        self._by_domain = {domain: route.name for route in table.routes.values() for domain in route.domains}
        order = {name: index for index, name in enumerate(table.routes)}
        # keyword (case-folded) -> the earliest route that lists it, or any keyword it contains
        first_route: dict[str, int] = {}
        for route in table.routes.values():
            for keyword in route.keywords:
                folded = keyword.casefold()
                first_route[folded] = min(first_route.get(folded, order[route.name]), order[route.name])
        self._rank = {
            keyword: min(rank for other, rank in first_route.items() if other in keyword)
            for keyword in first_route
        }
        self._names = list(table.routes)
        # One matcher per script: the regex engine tries the branches of an alternation in turn, so a trie
        # whose first letters mix Latin and CJK would try a hundred CJK branches at every Latin letter.
        # A Latin keyword must start a word ("law" is in "lawyer", not in "flaw"); CJK text has no
        # spaces, so other keywords match anywhere. For an all-ASCII prompt the separator before a word
        # is part of the pattern (the engine then skips word letters at C speed); for any other prompt
        # the word start is checked after a match (the engine then skips non-Latin text at C speed).
        latin = [word for word in first_route if word[0].isascii()]
        other = [word for word in first_route if not word[0].isascii()]
        self._latin = _compile(latin, prefix="(?:", suffix=")")
        self._latin_after_separator = _compile(latin, prefix=f"[^{_WORD_CHARS}](", suffix=")")
        self._other = _compile(other, prefix="(?:", suffix=")")

    def choose(self, model: str, domain: str | None, prompt: str) -> Route:
        table = self._table
        if not table.from_file:
            return table[table.default]  # one route, and the caller's model is passed on
        if model:
            if model not in table.routes:
                raise InvalidRequest(
                    f"unknown model {model!r}; this gateway serves: {', '.join(table.names)}",
                    param="model",
                    code="model_not_found",
                )
            return table[model]
        if domain:
            name = self._by_domain.get(domain)
            if name is None:
                known = ", ".join(sorted(self._by_domain)) or "none are configured"
                raise InvalidRequest(
                    f"unknown domain {domain!r}; domains: {known}", param="domain", code="domain_not_found"
                )
            return table[name]
        keyword_route = self._keyword_route(prompt)
        return table[keyword_route] if keyword_route is not None else table[table.default]

    def _keyword_route(self, prompt: str) -> str | None:
        text = prompt.casefold()
        best: int | None = None
        for keyword in self._keywords(text):
            rank = self._rank[keyword]
            if best is None or rank < best:
                best = rank
                if best == 0:
                    break
        return self._names[best] if best is not None else None

    def _keywords(self, text: str) -> Iterator[str]:
        """Every keyword in `text`, overlapping ones included (each search starts one past the last
        match's start, so search() keeps the engine's fast skip over characters no keyword starts with)."""
        if self._latin is not None and self._latin_after_separator is not None and text.isascii():
            # A keyword at the very start, then after each separator (the engine skips word letters).
            if (match := self._latin.match(text)) is not None:
                yield match.group()
            yield from _found(self._latin_after_separator, text, group=1)
        elif self._latin is not None:
            for keyword, start in _found_at(self._latin, text, group=0):
                if not start or text[start - 1] not in _WORD_CHARS:
                    yield keyword
        if self._other is not None:
            yield from _found(self._other, text, group=0)


def _found(matcher: re.Pattern[str], text: str, group: int) -> Iterator[str]:
    for keyword, _ in _found_at(matcher, text, group):
        yield keyword


def _found_at(matcher: re.Pattern[str], text: str, group: int) -> Iterator[tuple[str, int]]:
    position = 0
    while (match := matcher.search(text, position)) is not None:
        position = match.start() + 1
        yield match.group(group), match.start(group)


_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _compile(words: list[str], prefix: str = "", suffix: str = "") -> re.Pattern[str] | None:
    return re.compile(f"{prefix}{_trie_pattern(dict.fromkeys(words))}{suffix}") if words else None


def _trie_pattern(words: Mapping[str, object]) -> str:
    """An alternation of `words` factored by common prefixes, longest first (fewer branches per position)."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        optional = "" in node
        body = branches[0] if len(branches) == 1 and not optional else f"(?:{'|'.join(branches)})"
        return f"{body}?" if optional else body

    return pattern(trie)
