"""Words from an agreement made safe for the place they land: one function per channel (email, HTML, Slack,
Markdown for Teams and the Temporal Web UI, spreadsheets), used by the dispatcher, the Web UI's details, the CLI
and the report.

The text policy (``domain.text``) keeps control characters, separators and bidi controls out of new
agreements; an agreement recorded before it may still hold them, and every word may hold markup. So each
channel escapes what its own syntax gives meaning to, at the point where agreement words are put in:

- ``email_header``: one line, no control characters, separators or bidi controls (``email.policy``
  then encodes and folds it, so no header fails on its content);
- ``html``: HTML's ``& < > " '``;
- ``slack``: Slack's ``& < >``, so no ``<!channel>``, ``<@U123>`` or ``<http://…|label>`` is read as markup,
  and bare addresses broken by an invisible word joiner, so Slack does not link them;
- ``link_target``: an address percent-encoded where any channel's link syntax would end it;
- ``markdown``: what Markdown would read backslash-escaped (Teams Adaptive Cards, the Temporal Web UI), and
  ``://`` and ``www.`` broken so that no bare address is turned into a link.
"""

from __future__ import annotations

import html as _html
import re
from urllib.parse import quote

_MARKDOWN_ANYWHERE = re.compile(r"([\\`*_~\[\]<>|&#!@])")
_MARKDOWN_LINE_START = re.compile(r"^([ \t]*)([-+=])|^([ \t]*[0-9]{1,9})([.)])(?=\s|$)", re.MULTILINE)
_MARKDOWN_AUTOLINK = re.compile(r":(?=//)|(?i:www)\.")
_BARE_ADDRESS = re.compile(r":/|(?i:www)\.")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029" + "".join(sorted(_BIDI)) + "]")
"""Each control character (``Cc``: U+0000 to U+001F, U+007F to U+009F), surrogate (``Cs``), line or paragraph
separator (``Zl``, ``Zp``: U+2028, U+2029) and bidi control, as one pattern (Unicode's stability policy fixes
these categories' members); ``tests/test_escape.py`` checks it against the Unicode database."""


def one_line(text: str) -> str:
    """``text`` on one line: each run of control characters, line or paragraph separators and bidi
    controls becomes one space."""
    return re.sub(r" {2,}", " ", _NOT_ON_ONE_LINE.sub(" ", text)).strip()


def email_header(text: str) -> str:
    """A header value from ``text``: one line (``one_line``); the email policy encodes it (RFC 2047) and folds
    it to 78 columns."""
    return one_line(text)


def html(text: str) -> str:
    """``text`` for HTML content or attribute values."""
    return _html.escape(text, quote=True)


def slack(text: str) -> str:
    """``text`` for Slack ``mrkdwn`` or a message's ``text``: ``&``, ``<`` and ``>`` as entities, as Slack's
    formatting reference requires, so that agreement words cannot mention, link or ping; and a word joiner
    (U+2060, invisible) after the ``:`` of ``://`` and the ``www`` of ``www.``, since Slack turns a bare
    address into a link by itself."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BARE_ADDRESS.sub(lambda m: m.group(0)[:-1] + "\u2060" + m.group(0)[-1], escaped)


def markdown(text: str) -> str:
    """``text`` shown as itself in Markdown (a Teams Adaptive Card, the Temporal Web UI), backslash-escaped
    where Markdown would read it: everywhere the characters of emphasis, code, links, images, HTML, tables,
    headings and entities (\\ ` * _ ~ [ ] < > | & # ! @); at the start of a line those of lists, quotes and
    setext headings (``-``, ``+``, ``=``, ``1.``); and the ``:`` of ``://`` and the ``.`` of ``www.``, so that
    no bare address becomes a link. Other text, line breaks included, is left as written."""
    escaped = _MARKDOWN_ANYWHERE.sub(r"\\\1", text)
    escaped = _MARKDOWN_LINE_START.sub(lambda m: f"{m[1] or m[3] or ''}\\{m[2] or m[4]}", escaped)
    return _MARKDOWN_AUTOLINK.sub(lambda m: "\\:" if m.group(0) == ":" else m.group(0)[:3] + "\\.", escaped)


_LINK_TARGET_SAFE = ":/?#@$+,;=%-._~"
"""What ``link_target`` leaves as written: the URL syntax of a plain address (RFC 3986), without the characters a
channel's link syntax gives meaning to."""


def link_target(url: str) -> str:
    """``url`` as the target of a link in any channel: every character but ASCII letters, digits and
    ``: / ? # @ $ + , ; = % - . _ ~`` percent-encoded (UTF-8), so that no ``( ) [ ] < > | " ' * ! &``, space or
    line break ends a Markdown link, a Slack ``<url|label>`` or an HTML attribute early. Callers still escape it
    for HTML (``html``)."""
    return quote(url, safe=_LINK_TARGET_SAFE)


def spreadsheet_cell(text: str) -> str:
    """``text`` for a tab-separated or CSV cell that a spreadsheet may open: a value starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so it is not read as a formula
    (OWASP's CSV injection advice), unless it is a plain number such as ``-1250.50`` or that one character alone
    (``-`` for none)."""
    if (len(text) > 1 and text[:1] in ("=", "+", "-", "@", "\t", "\r")
            and not re.fullmatch(r"[+-]?[0-9][0-9,]*(\.[0-9]+)?%?", text)):
        return "'" + text
    return text
