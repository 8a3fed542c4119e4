"""Every HTML template escapes what it is given (issue 14, item 6): the proposers' mails, the notices
to officials and the public tracking page all carry titles a proposer wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from jianyi.rules import messages
from jianyi.rules.messages import MailContext, render_mail, template_names
from jianyi.services import official_mail
from jianyi.web.templating import environment as web_environment

SCRIPT = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
TEMPLATES = Path(official_mail.__file__).resolve().parents[1] / "templates"


@pytest.mark.parametrize("kind", template_names("email"))
def test_a_mail_to_the_proposer_escapes_the_title_and_every_text(kind: str) -> None:
    context = MailContext(
        proposer_name=SCRIPT,
        tracking_code="JY2612ABCDEFGH",
        check_code="ABCD",
        title=SCRIPT,
        tracking_url="http://127.0.0.1:8700/track/JY2612ABCDEFGH?check=ABCD",
        outcome_label="已采纳并落实",
        reason=SCRIPT,
        reply_text=SCRIPT,
        original_tracking_code="JY2612ZZZZZZZZ",
        commendation=SCRIPT,
    )
    mail = render_mail(kind, context)
    assert SCRIPT not in mail.html and ESCAPED in mail.html
    assert SCRIPT in mail.text  # the plain-text part is text: nothing to escape


def test_a_notice_to_officials_escapes_the_title() -> None:
    values = {
        "unit_name": "市交通委",
        "summary": SCRIPT,
        "title": SCRIPT,
        "tracking_code": "JY2612ABCDEFGH",
        "step_label": "研究答复",
        "due": None,
        "overdue": 0,
        "answer_within": None,
        "link": "http://127.0.0.1:8700/api/steps/1",
        "office_name": "市征集办",
    }
    html = official_mail._environment().get_template("notice.html.j2").render(values)
    assert SCRIPT not in html and ESCAPED in html


def test_every_html_template_is_rendered_with_escaping() -> None:
    """Whatever its suffix: Starlette's default environment left the page's *.html.j2 unescaped."""
    environments = {
        "mail": messages._environment(),
        "official": official_mail._environment(),
        "web": web_environment,
    }
    for folder, env in environments.items():
        names = [p.name for p in (TEMPLATES / folder).glob("*.html.j2")]
        assert names, folder
        for name in names:
            assert env.autoescape(name) if callable(env.autoescape) else env.autoescape, name
