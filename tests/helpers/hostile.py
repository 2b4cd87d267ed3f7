"""One corpus of hostile words, for every place an agreement's words land (tests/test_words.py).

Each entry is (name, text). Some the text policy refuses (control characters, separators, bidi controls); the
rest it accepts, and they must then reach every channel as plain words: no header, link, mention or formula
made from them, and every message within its channel's limit. Agreements recorded before the policy may still
hold the refused ones, so channels are tested with the whole corpus.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from domain.model import Name

LONG_WORD = "Supercalifragilistic" * 10
"""200 characters with no space: a title that once pushed the report's other columns off the page."""

CORPUS: list[tuple[str, str]] = [
    ("line feed", "Waste\nBcc: everyone@evil.example"),
    ("carriage return", "Waste\r\nX-Injected: yes"),
    ("nul", "Waste\x00service"),
    ("escape", "Waste \x1b[31mred\x1b[0m"),
    ("next line", "Waste\x85service"),
    ("line separator", "Waste\u2028service"),
    ("paragraph separator", "Waste\u2029service"),
    ("right-to-left override", "Waste \u202egnicnanif"),
    ("isolate", "Waste \u2067service\u2069"),
    ("zero-width space", "Waste\u200b service"),
    ("soft hyphen", "Waste\u00ad service"),
    ("markdown link", "[Open in Temporal](https://evil.example/phish)"),
    ("markdown image", "![x](https://evil.example/pixel.png)"),
    ("markdown emphasis", "**URGENT** _sign now_ ~~old~~ `code` # heading | table |"),
    ("bare link", "see https://evil.example/phish or www.evil.example"),
    ("email autolink", "write to someone@evil.example"),
    ("slack mention", "<!channel> <!here> <@U012AB3CD> <#C024BE91L>"),
    ("slack link", "<https://evil.example/phish|Open in Temporal>"),
    ("html", '<a href="https://evil.example">click</a><script>alert(1)</script><img src=x onerror=alert(1)>'),
    ("entity", "&lt;b&gt; &amp; &#60;"),
    ("formula", '=HYPERLINK("https://evil.example","Open")'),
    ("plus formula", "+cmd|' /C calc'!A0"),
    ("minus formula", "-2+3+cmd|' /C calc'!A0"),
    ("at formula", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("dollar maths", "$\\frac{1}{0}$ and $x^{2}$"),
    ("long word", LONG_WORD),
    ("list start", "- not a list\n1. nor this"),
    ("confusable", "Lісhfіеld shared waste"),
    ("emoji", "🏛️ Shared services 🤝"),
]

LONG_TEXT = ("The partners could not agree the contributions. " * 110)[:5000]
"""5,000 characters: more than a reason or a lesson may hold (4,000), as an agreement might once have recorded."""


def accepted_titles() -> list[tuple[str, str]]:
    """The corpus entries the text policy accepts as a title (at most 200 characters, one line)."""
    adapter = TypeAdapter(Name)
    accepted = []
    for name, text in CORPUS:
        try:
            accepted.append((name, adapter.validate_python(text[:200])))
        except ValidationError:
            continue
    return accepted
