"""A small profanity filter for text shown on the projector (company and display names).

The stored submission keeps what the person typed (the export is for the organiser); only the
display copy is masked. Matching is per word, case-insensitive, and also catches simple
leetspeak and inflections ("shitty"), which is what a room full of engineers tries.
"""

from __future__ import annotations

import re

_WORDS = (
    "arse",
    "arsehole",
    "asshole",
    "bastard",
    "bitch",
    "bollocks",
    "bullshit",
    "cock",
    "crap",
    "cunt",
    "dick",
    "fuck",
    "motherfucker",
    "piss",
    "prick",
    "shit",
    "slut",
    "twat",
    "wank",
    "wanker",
    "whore",
)
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# Exact words plus common inflections: "Cockpit Ltd" and "Dickens" must stay readable.
_SUFFIXES = ("", "s", "es", "ed", "er", "ers", "ing", "y", "ty", "head", "heads")
_WORD = re.compile(r"[\w@$]+", re.UNICODE)


_FORMS = frozenset(bad + suffix for bad in _WORDS for suffix in _SUFFIXES)


def _is_rude(word: str) -> bool:
    return word.lower().translate(_LEET) in _FORMS


def mask(text: str) -> str:
    """Return text with rude words replaced by their first letter and asterisks."""
    return _WORD.sub(lambda m: m[0][0] + "*" * (len(m[0]) - 1) if _is_rude(m[0]) else m[0], text)
