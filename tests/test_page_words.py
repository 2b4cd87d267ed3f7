"""Words from agreements on the pages: every hostile title the text policy accepts reaches the inbox and the
agreement's page as plain text (Jinja2's HTML escaping), never as markup a browser would run or follow."""

from __future__ import annotations

import re
from datetime import date

import pytest

from domain.inbox import Task
from domain.model import Rag
from domain.status import money_summary, status_of, waiting_summary
from domain.versions import Version
from tests.helpers.agreements import in_sign_off
from tests.helpers.builders import after
from tests.helpers.hostile import accepted_titles
from web.pages import TEMPLATES

MARKUP = re.compile(r"<(script|img|a)\b", re.IGNORECASE)
"""The markup the hostile words carry: a page may hold only as much of it as the same page for a plain title."""


def _render(template: str, **context: object) -> str:
    return TEMPLATES.get_template(template).render(request=None, person=None, csrf_token="", **context)


def _pages(title: str) -> tuple[str, str]:
    """The agreement's page and the inbox for an agreement in sign-off titled ``title``."""
    agreement = in_sign_off(title=title)
    status = status_of(agreement, after(days=1))
    current = Version(proposal=agreement.proposal, plan=agreement.plan, version=status.version,
                      seq=agreement.chain.seq)
    page = _render("agreement.html", title=status.title, status=status, current=current, previous=None, changed=[],
                   options=[], preferred="", signing=None, accepting=None, waiting=waiting_summary(status),
                   money=money_summary(status), story=[], refused=None, errors={}, values={}, stale=False,
                   offers=[])
    task = Task(agreement_id=status.agreement_id, title=title, body="E07000194", body_name="Lichfield",
                what="sign off round 1", update="record_sign_off", signatory=None, deadline=date(2027, 1, 6),
                rag=Rag.GREEN, link=f"agreements/{status.agreement_id}")
    return page, _render("inbox.html", title="What waits on you", tasks=[task], agreements=[status])


@pytest.mark.parametrize(("name", "title"), accepted_titles(), ids=[name for name, _ in accepted_titles()])
def test_an_agreements_words_are_plain_text_on_its_page_and_in_the_inbox(name: str, title: str) -> None:
    plain = _pages("Joint waste service")
    for html, baseline in zip(_pages(title), plain, strict=True):
        assert len(MARKUP.findall(html)) == len(MARKUP.findall(baseline)), f"{name}: markup made from the title"
        if "<" in title or "&" in title:
            assert title not in html, f"{name}: the title unescaped"
            assert html.count("&lt;") + html.count("&amp;") > baseline.count("&lt;") + baseline.count("&amp;")
