"""One policy for the words an agreement carries, applied where they come in.

Every way in (the Temporal contract, the API, the CLI, YAML) validates through the text types of
``domain.model``, which call the two functions here:

- ``single_line`` for titles, names, labels and codes: refuses control characters (tab, line feed and
  U+0085 included), the line and paragraph separators U+2028 and U+2029, and bidirectional controls
  (Unicode Bidi_Control: U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069); then normalises to
  NFC and removes default-ignorable code points (zero-width spaces and joiners, soft hyphens, variation
  selectors: Unicode Default_Ignorable_Code_Point), so that what is stored is what a reader sees.
- ``multi_line`` for reasons, lessons, mitigations and notes: the same, except that line breaks are
  allowed (CR LF and CR are stored as LF).

Names are compared with ``name_key``: the Unicode UTS #39 confusable skeleton of the normalised name,
without regard to case, so that "Ann Smith" written with a Cyrillic "А" or a zero-width space is the
same person as "Ann Smith".
"""

from __future__ import annotations

import unicodedata

import icu
import regex

_BIDI_CONTROL = regex.compile(r"\p{Bidi_Control}")
_DEFAULT_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
_SEPARATORS = "\u2028\u2029"
_SPOOF_CHECKER = icu.SpoofChecker()


def _problem(text: str, *, line_breaks: bool) -> str | None:
    """What ``text`` has that the policy refuses, in words, or None."""
    for char in text:
        if line_breaks and char in "\r\n":
            continue
        category = unicodedata.category(char)
        if category == "Cs":
            return "must not contain lone surrogates"
        if category == "Cc":
            return f"must not contain control characters (found U+{ord(char):04X})"
        if char in _SEPARATORS:
            return f"must not contain line or paragraph separators (found U+{ord(char):04X})"
        if _BIDI_CONTROL.match(char):
            return f"must not contain bidirectional controls (found U+{ord(char):04X})"
    return None


def _normalised(text: str) -> str:
    return _DEFAULT_IGNORABLE.sub("", unicodedata.normalize("NFC", text))


def single_line(text: str) -> str:
    """``text`` for a one-line field (a title, a name, a label), NFC without default-ignorables.

    Raises ``ValueError`` naming the first character refused (a control character, a line or paragraph
    separator, a bidirectional control). Leading and trailing white space is the caller's to strip.
    """
    if problem := _problem(text, line_breaks=False):
        raise ValueError(problem)
    return _normalised(text)


def multi_line(text: str) -> str:
    """``text`` for a field of several lines (a reason, a lesson), with line breaks stored as LF.

    Raises ``ValueError`` as ``single_line`` does, for everything but CR and LF.
    """
    if problem := _problem(text, line_breaks=True):
        raise ValueError(problem)
    return _normalised(text.replace("\r\n", "\n").replace("\r", "\n"))


def skeleton(text: str) -> str:
    """The UTS #39 confusable skeleton of ``text`` (ICU's SpoofChecker), which two strings share when they
    look alike: "Аnn" with a Cyrillic А and "Ann" give the same skeleton."""
    return str(_SPOOF_CHECKER.getSkeleton(0, text))


def recorded_name_key(name: str) -> str:
    """How names were compared before rules version 2 (and still are for agreements run under older rules):
    Unicode NFC, without regard to case or surrounding white space."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name.strip()).casefold())


def name_key(name: str) -> str:
    """How names are compared, as people read them: without default-ignorables, surrounding white space,
    case, or the difference between characters that look alike (UTS #39 skeletons).

    "Siân Llŷr" typed precomposed or decomposed, in any case, with a zero-width space or with a Cyrillic
    letter for a Latin one, gives the same key.
    """
    plain = _normalised(name.strip())
    return unicodedata.normalize("NFC", skeleton(plain.casefold()).casefold())
