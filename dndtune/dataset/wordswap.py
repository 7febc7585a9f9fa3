"""Whole-word replacement used by augmentation: one pass, so ``A->B`` and ``B->C`` never chain."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Hyphens count as word characters: renaming "elf" must leave "half-elf" alone.
_BEFORE = r"(?<![\w-])"
_AFTER = r"(?![\w-])"
_ARTICLE = r"(?:(?P<article>\b[Aa][Nn]?)(?P<space>\s+))?"


def words_of(text: str) -> set[str]:
    """The lower-cased whole words of ``text``, split the way :func:`contains_word` matches them."""
    return set(re.findall(r"[\w-]+", text.lower()))


def contains_word(text: str, word: str, *, ignore_case: bool = False) -> bool:
    flags = re.IGNORECASE if ignore_case else 0
    return re.search(_BEFORE + re.escape(word) + _AFTER, text, flags) is not None


def _match_case(template: str, word: str) -> str:
    """``word`` written the way ``template`` is (``Dwarf`` -> ``Elf``, ``DWARF`` -> ``ELF``)."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template.islower():
        return word.lower()
    if template == template.title():
        return word.title()
    return word[:1].upper() + word[1:]


def _article_for(word: str, template: str) -> str:
    article = "an" if word[:1].lower() in "aeiou" else "a"
    return article.capitalize() if template[:1].isupper() else article


class WordSwap:
    """Replaces whole words or phrases by a mapping, longest key first.

    With ``ignore_case`` the keys are matched in any case and the replacement copies the case of
    what it replaces, and an ``a``/``an`` right before it is corrected (``a dwarf`` -> ``an elf``).
    """

    def __init__(self, mapping: Mapping[str, str], *, ignore_case: bool = False) -> None:
        self._ignore_case = ignore_case
        self._mapping = {(k.lower() if ignore_case else k): v for k, v in mapping.items() if k}
        keys = sorted(self._mapping, key=len, reverse=True)
        self._pattern: re.Pattern[str] | None = None
        if keys:
            alternation = "|".join(re.escape(k) for k in keys)
            article = _ARTICLE if ignore_case else ""
            flags = re.IGNORECASE if ignore_case else 0
            self._pattern = re.compile(f"{article}{_BEFORE}(?P<word>{alternation}){_AFTER}", flags)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group("word")
        if not self._ignore_case:
            return self._mapping[found]
        new = _match_case(found, self._mapping[found.lower()])
        article = match.group("article")
        if article is None:
            return new
        return _article_for(new, article) + match.group("space") + new
