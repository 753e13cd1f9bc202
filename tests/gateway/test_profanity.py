"""One normaliser for everything the projector shows, then the profanity mask: look-alike,
invisible, spaced, dotted and repeated spellings are caught; real names stay readable."""

from __future__ import annotations

import pytest

from gateway.profanity import display, is_rude, mask


@pytest.mark.parametrize(
    "spelling",
    [
        "shit",
        "SHIT",
        "ѕhit",  # Cyrillic dze
        "shіt",  # Cyrillic i
        "ѕһіт",  # Cyrillic all the way
        "fυck",  # Greek upsilon
        "ｆｕｃｋ",  # fullwidth
        "𝐟𝐮𝐜𝐤",  # mathematical bold
        "sh\u200bit",  # zero-width space
        "fu\u2060ck",  # word joiner
        "f\u00adu\u00adc\u00adk",  # soft hyphens
        "sh\u034fit",  # combining grapheme joiner
        "f u c k",
        "f  u  c  k",
        "s.h.i.t",
        "s-h-i-t",
        "s_h_i_t",
        "f*u*c*k",
        "fuuuuuck",
        "shiiiiit",
        "sh1t",
        "$hit",
        "b1tch",
        "fúck",  # accent
        "fu\u0301ck",  # combining accent
        "shitty",
        "f.u.c.k.e.r.s",
        "motherfucking",
        "Fuckface",
    ],
)
def test_rude_spellings_are_masked(spelling: str) -> None:
    assert is_rude(spelling), spelling
    shown = mask(spelling)
    assert "*" in shown
    assert not is_rude(shown.replace("*", "")), shown


@pytest.mark.parametrize(
    "name",
    [
        "Cockpit Ltd",
        "Dickens & Sons",
        "Scunthorpe United",
        "Cockburn",
        "Shiitake Foods",
        "Wankel Engines",
        "Transport for London",
        "José Müller",
        "Zoë",
        "東京メトロ",
        "Bass Hole Records",
        "Assist",
    ],
)
def test_real_names_stay_readable(name: str) -> None:
    assert mask(name) == display(name) == name


def test_the_mask_keeps_the_first_letter_and_the_rest_of_the_text() -> None:
    assert mask("Fuck Inc") == "F*** Inc"
    assert mask("s.h.i.t corp") == "s.*.*.* corp"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("A\u200bC\u200dM\ufeffE", "ACME"),  # zero-width space, joiner, BOM
        ("\u202eEMCA", "EMCA"),  # right-to-left override: no reversed text on the screen
        ("ACME\x1b[2J", "ACME[2J"),  # a terminal escape cannot clear the presenter's screen
        ("Z\u0335\u0321\u0322\u0334algo", "Z\u0335algo"),  # stacked marks cut to one
        ("Ｔｆｌ", "Tfl"),
        ("A\u3164B", "AB"),  # Hangul filler: renders as nothing
        ("line\nbreak\ttab", "line break tab"),
        ("  spaced   out  ", "spaced out"),
    ],
)
def test_display_drops_what_would_fool_or_break_the_screen(typed: str, shown: str) -> None:
    assert display(typed) == shown
