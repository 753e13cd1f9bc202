"""What the projector may show of a name or company: one normaliser, then the profanity check.

`display(text)` is the text as it is shown anywhere (screen, phones, `tubedemo winners`): Unicode
NFKC (fullwidth and mathematical letters become plain ones), invisible and control characters
removed (zero-width spaces, joiners, fillers, bidi overrides, terminal escapes), stacked
combining marks cut to one per letter, whitespace collapsed.

`mask(text)` is `display(text)` with rude words masked (first letter kept, `f***`). Matching
runs on a skeleton of each word: accents and combining marks dropped, case folded, look-alike
letters of other scripts (Cyrillic `а`, Greek `ο`) folded to Latin, leetspeak undone (`sh1t`),
repeated letters collapsed (`fuuuck`), and neighbouring pieces joined across separators
(`f u c k`, `s.h.i.t`, `f_ck` is not a word but `fu ck` is). Per word, so "Cockpit Ltd",
"Dickens" and "Scunthorpe" stay readable.

The stored submission keeps what the person typed (the export is for the organiser). Pure;
the answers are cached (the screen asks for the same few names every few seconds).
"""

from __future__ import annotations

import functools
import re
import unicodedata

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
# Exact words plus common inflections: "Cockpit Ltd" and "Dickens" must stay readable.
_SUFFIXES = ("", "s", "es", "ed", "er", "ers", "ing", "y", "ty", "head", "heads")
_ANYWHERE = ("fuck",)
"""Rude wherever they appear inside a word (no English word contains them)."""
_ANYWHERE_RE = re.compile("|".join(_ANYWHERE))
_MAX_JOIN = 12
"""Neighbouring pieces joined at most (`f.u.c.k.e.r.s` is seven)."""

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
# Letters of other scripts that look like Latin ones (after case folding). Unicode's full
# confusables table is large; these are the ones a keyboard offers without effort.
_CONFUSABLE = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
        "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h", "ь": "b", "г": "r",
        "п": "n", "л": "n", "и": "u", "з": "3", "ч": "4",
        # Greek
        "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
        "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s", "σ": "o",
        # Latin look-alikes outside a-z
        "ı": "i", "ɡ": "g", "ʟ": "l", "ɪ": "i", "ᴄ": "c", "ᴋ": "k", "ᴜ": "u", "ꜰ": "f",
        "ꜱ": "s", "ʜ": "h", "ᴛ": "t", "ᴡ": "w", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe",
    }
)  # fmt: skip
# Characters that render as nothing (or as a blank) but are not in a format/control category.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0\U0001d159\U0001d15a")
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})
_MARKS = frozenset({"Mn", "Me"})


def _collapse_repeats(word: str) -> str:
    return re.sub(r"(.)\1+", r"\1", word)


_FORMS = frozenset(_collapse_repeats(bad + suffix) for bad in _WORDS for suffix in _SUFFIXES)


@functools.lru_cache(maxsize=8192)
def display(text: str) -> str:
    """The text as the screen shows it: NFKC, nothing invisible, one mark per letter. Pure."""
    out: list[str] = []
    marks = 0
    for ch in unicodedata.normalize("NFKC", text):
        if ch in _INVISIBLE:
            continue
        category = unicodedata.category(ch)
        if category in _DROP_CATEGORIES:
            if ch in "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85":
                out.append(" ")  # a line break or tab still separates words
            continue
        if category in _MARKS:
            marks += 1
            if marks > 1 or not out:
                continue  # "Zalgo" stacks and marks with nothing to sit on
        else:
            marks = 0
        out.append(" " if category in _SPACE_CATEGORIES else ch)
    return " ".join("".join(out).split())


@functools.lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Letters and digits of `text` without accents, case or look-alikes: "ACME", "a.c.m.e"
    and "Аcme" (Cyrillic А) group together on the screen's top companies. Pure."""
    decomposed = unicodedata.normalize("NFKD", display(text))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _MARKS)
    return "".join(ch for ch in bare.casefold().translate(_CONFUSABLE) if ch.isalnum())


@functools.lru_cache(maxsize=8192)
def skeleton(piece: str) -> str:
    """What a piece of text spells, for matching only: no marks, folded, de-leeted. Pure."""
    decomposed = unicodedata.normalize("NFKD", piece)
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _MARKS)
    folded = bare.casefold().translate(_CONFUSABLE).translate(_LEET)
    return _collapse_repeats("".join(ch for ch in folded if "a" <= ch <= "z"))


def is_rude(text: str) -> bool:
    """True when `mask` would hide anything in `text`. Pure."""
    return mask(text) != display(text)


@functools.lru_cache(maxsize=8192)
def mask(text: str) -> str:
    """`display(text)` with every rude word masked: first letter, then asterisks. Pure."""
    shown = display(text)
    pieces = [(m.start(), m.end(), skeleton(m[0])) for m in re.finditer(r"[\w@$!]+", shown)]
    hidden = [False] * len(pieces)
    for i in range(len(pieces)):
        if _ANYWHERE_RE.search(pieces[i][2]):
            hidden[i] = True
        spelled, longest = "", None
        for j in range(i, min(i + _MAX_JOIN, len(pieces))):
            spelled = _collapse_repeats(spelled + pieces[j][2])
            if len(spelled) > 24:
                break
            if spelled in _FORMS:
                longest = j  # the longest match: "f.u.c.k.e.r.s" hides the "ers" too
        if longest is not None:
            for k in range(i, longest + 1):
                hidden[k] = True
    if not any(hidden):
        return shown
    chars = list(shown)
    first = True
    for (start, end, _), hide in zip(pieces, hidden, strict=True):
        if not hide:
            first = True
            continue
        for pos in range(start, end):
            if first:
                first = False
                continue
            chars[pos] = "*"
    return "".join(chars)
