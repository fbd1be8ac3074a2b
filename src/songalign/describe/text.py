"""Tokens, clauses and lemma guesses for lyric text (pure Python, no downloaded data).

Lyrics are split into clauses at line breaks, at ``. , ; : ! ? ( ) [ ] "``, at dashes between
spaces and at the `` / `` line separator some corpora use; negation and intensifiers never reach
across a clause. Tokens are lower-cased words with inner apostrophes kept (``don't``, ``love's``);
curly apostrophes count as straight ones.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*")
_CLAUSE_BREAK = re.compile(r"[\n.,;:!?()\[\]\"]+|\s[-–—]+\s|\s/\s")
_SUFFIXES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    # (suffix, replacements, shortest stem kept)
    ("iness", ("y",), 2),
    ("ness", ("",), 3),
    ("ily", ("y",), 2),
    ("ies", ("y",), 2),
    ("ied", ("y",), 2),
    ("ing", ("", "e"), 2),
    ("ed", ("", "e"), 2),
    ("es", ("", "e"), 2),
    ("ly", ("", "le"), 3),
    ("s", ("",), 3),
    ("d", ("",), 3),
)


def clauses(text: str) -> list[list[str]]:
    """Lower-cased word tokens of ``text``, grouped into clauses (lines and punctuated parts)."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    return [tokens for part in _CLAUSE_BREAK.split(text) if (tokens := _TOKEN.findall(part))]


def words(text: str) -> list[str]:
    """All tokens of ``text`` in order (clauses flattened)."""
    return [token for clause in clauses(text) for token in clause]


def lemma_candidates(word: str) -> list[str]:
    """``word`` and the forms it may be an inflection of, most likely first.

    A crude suffix stripper ("tears" → "tear", "running" → "run",
    "happily" → "happy"); callers look the forms up in order and keep the first that a lexicon has.
    """
    forms = [word]
    if word.endswith("'s"):
        forms.append(word[:-2])
    for suffix, replacements, shortest in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
            stem = word[: -len(suffix)]
            forms.extend(stem + r for r in replacements)
            if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                forms.append(stem[:-1])  # running → run, sobbing → sob
    return list(dict.fromkeys(forms))
