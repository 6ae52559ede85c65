"""Which route serves a request: `model` naming a route, else `domain`, else the first route (in file
order) with a keyword in the prompt, else the default. Keywords are case-insensitive; one that begins
with a Latin letter or digit must begin a word of the prompt, any other (CJK) may stand anywhere.

Keywords are matched by one compiled regular expression built as a trie of every route's keywords, so
a 2,048-character prompt is scanned once whatever the number of routes (`make bench` measures it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lib.platform.errors import InvalidRequest
from lib.platform.route_table import Route, RouteTable


class RouteChooser:
    def __init__(self, table: RouteTable) -> None:
        self._table = table
        self._by_domain = {domain: route.name for route in table.routes.values() for domain in route.domains}
        order = {name: index for index, name in enumerate(table.routes)}
        # keyword (lower-cased) -> the earliest route that lists it, or any keyword it contains
        first_route: dict[str, int] = {}
        for route in table.routes.values():
            for keyword in route.keywords:
                folded = keyword.lower()
                first_route[folded] = min(first_route.get(folded, order[route.name]), order[route.name])
        self._rank = {
            keyword: min(rank for other, rank in first_route.items() if other in keyword)
            for keyword in first_route
        }
        self._names = list(table.routes)
        # One matcher per script: the regex engine tries the branches of an alternation in turn, so a trie
        # whose first letters mix Latin and CJK would try a hundred CJK branches at every Latin letter.
        # A Latin keyword must start a word ("law" is in "lawyer", not in "flaw"); CJK text has no
        # spaces, so other keywords match anywhere. The matchers are chosen by the prompt:
        # - all ASCII (lower-casing it is cheap): the separator before a word is part of the pattern,
        #   so the engine skips word letters at C speed; no other keyword can occur in it;
        # - anything else: the Latin trie without the separator, so the engine skips non-Latin text at
        #   C speed (the word start is checked after a match), then the other keywords' trie.
        latin = [word for word in first_route if word[0].isascii()]
        other = [word for word in first_route if not word[0].isascii()]
        self._latin = _compile(latin)
        self._latin_after_separator = _compile(latin, prefix=f"[^{_WORD_CHARS}]")
        self._other = _compile(other)

    def choose(self, model: str, domain: str | None, prompt: str, kind: str = "chat") -> Route:
        """The route for a request of `kind` (a request's kind: "embeddings" is served by embeddings
        routes, every other kind by chat routes)."""
        table = self._table
        if not table.from_file:
            return table.route(table.default)  # one route, and the caller's model is passed on
        wanted = "embeddings" if kind == "embeddings" else "chat"
        if model:
            route = table.routes.get(model)
            if route is None or route.kind != wanted:
                served = ", ".join(name for name, other in table.routes.items() if other.kind == wanted)
                problem = f"unknown model {model!r}" if route is None else f"{model!r} serves {route.kind}"
                raise InvalidRequest(
                    f"{problem}; this gateway serves {wanted} with: {served or 'no route'}",
                    param="model",
                    code="model_not_found",
                )
            return route
        if wanted == "embeddings":
            if table.default_embeddings is None:
                raise InvalidRequest(
                    'this gateway has no embeddings route (kind = "embeddings" in the routes file)',
                    param="model",
                    code="model_not_found",
                )
            return table.route(table.default_embeddings)
        if domain:
            name = self._by_domain.get(domain)
            if name is None:
                known = ", ".join(sorted(self._by_domain)) or "none are configured"
                raise InvalidRequest(
                    f"unknown domain {domain!r}; domains: {known}", param="domain", code="domain_not_found"
                )
            return table.route(name)
        keyword_route = self._keyword_route(prompt)
        return table.route(keyword_route) if keyword_route is not None else table.route(table.default)

    def _keyword_route(self, prompt: str) -> str | None:
        rank = self._rank
        best: int | None = None
        text = prompt.lower()
        if text.isascii():
            scans = [(self._latin_after_separator, False)]
            if self._latin is not None and (first := self._latin.match(text)) is not None:
                best = rank[first.group(1)]  # a keyword at the very start
        else:
            scans = [(self._latin, True), (self._other, False)]
        for matcher, check_word_start in scans:
            if matcher is None:
                continue
            position = 0
            # search() from one past each match start, not finditer(): keywords that overlap a match are
            # seen too, and search() keeps the engine's fast skip over characters no keyword starts with.
            while (match := matcher.search(text, position)) is not None:
                position = match.start() + 1
                start = match.start(1)
                if check_word_start and start and text[start - 1] in _WORD_CHARS:
                    continue
                found = rank[match.group(1)]
                if best is None or found < best:
                    best = found
                    if best == 0:
                        break
        return self._names[best] if best is not None else None


_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"  # of lower-cased text


def _compile(words: list[str], prefix: str = "") -> re.Pattern[str] | None:
    """The words' trie as group 1, after `prefix`; None for no words."""
    return re.compile(f"{prefix}({_trie_pattern(dict.fromkeys(words))})") if words else None


def _trie_pattern(words: Mapping[str, object]) -> str:
    """An alternation of `words` factored by common prefixes (fewer branches per position)."""
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
