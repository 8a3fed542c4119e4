"""Rendering of the messages to proposers: Chinese, both parts of a mail, the tracking link, escaped
HTML, short SMS texts, and templates checked against what their trigger gives."""

from __future__ import annotations

import pytest

from jianyi.rules.messages import (
    MailContext,
    UnknownTemplate,
    render,
    render_mail,
    template_names,
    template_problem,
    with_query,
)

TRACKING_URL = "http://127.0.0.1:8700/track/SH20260001?check=k3y"


def _context(**changes: str | None) -> MailContext:
    values: dict[str, str | None] = {
        "proposer_name": "李明",
        "tracking_code": "SH20260001",
        "check_code": "k3y",
        "title": "关于增设公交站点的建议",
        "tracking_url": TRACKING_URL,
        "outcome_label": "已采纳并落实",
        "reason": "已纳入年度实事项目",
        "reply_text": "经市交通委研究，拟于明年增设站点。",
        "original_tracking_code": "SH20250999",
        "commendation": "2026年度优秀人民建议（一等）",
    }
    values.update(changes)
    return MailContext.model_validate(values)


@pytest.mark.parametrize("kind", template_names("email"))
def test_every_kind_has_a_chinese_subject_both_parts_and_the_tracking_link(kind: str) -> None:
    mail = render_mail(kind, _context())
    assert "SH20260001" in mail.subject
    assert any("\u4e00" <= ch <= "\u9fff" for ch in mail.subject)
    assert mail.text.startswith("李明：您好！")
    assert TRACKING_URL in mail.text
    # In HTML the & of a query string is written &amp;; this URL has none outside the rating link.
    assert f'href="{TRACKING_URL}"' in mail.html
    assert "<html" in mail.html and "李明：您好！" in mail.html
    assert "{{" not in mail.text + mail.html  # nothing left unrendered


def test_acknowledgement_gives_the_codes_and_says_accepted_the_same_day() -> None:
    mail = render_mail("acknowledgement", _context())
    assert mail.subject == "已收到您的建议（跟踪编号 SH20260001）"
    assert "当天受理" in mail.text and "当天受理" in mail.html
    assert "k3y" in mail.text and "k3y" in mail.html
    # Without a check code the mail still reads well and does not print "None".
    plain = render_mail("acknowledgement", _context(check_code=None))
    assert "None" not in plain.text + plain.html
    assert "查询码" not in plain.text


def test_reply_carries_the_reply_and_a_rating_link() -> None:
    mail = render_mail("reply", _context())
    assert "经市交通委研究，拟于明年增设站点。" in mail.text
    assert f"{TRACKING_URL}&rate=1" in mail.text
    assert f'href="{TRACKING_URL}&amp;rate=1"' in mail.html


def test_a_template_using_what_its_trigger_does_not_give_is_refused() -> None:
    assert template_problem("reply", "email", "event:reply_sent") is None
    problem = template_problem("reply", "email", "event:opinion_accepted")
    assert problem is not None and "reply_text" in problem and "opinion_accepted" in problem
    assert template_problem("outcome", "email", "stage:closed") is None
    assert template_problem("commendation", "letter", "event:commended") is None
    missing = template_problem("rating_request", "email", "event:reply_sent")
    assert missing is not None and "rating_request.txt.j2" in missing


def test_sms_texts_are_short_carry_the_link_and_the_codes() -> None:
    values = _context().model_dump() | {"rating_url": f"{TRACKING_URL}&rate=1"}
    ack = render("acknowledgement", "sms", values)
    assert ack.html == "" and "\n" not in ack.text
    assert "SH20260001" in ack.text and "k3y" in ack.text and TRACKING_URL in ack.text
    rate = render("rating_request", "sms", values)
    assert f"{TRACKING_URL}&rate=1" in rate.text and len(rate.text) < 140


def test_outcome_merged_and_redirected_say_what_happened() -> None:
    outcome = render_mail("outcome", _context())
    assert "已采纳并落实" in outcome.subject and "已纳入年度实事项目" in outcome.text
    merged = render_mail("merged", _context())
    assert "合并办理" in merged.text and "SH20250999" in merged.text and "仍会" in merged.text
    redirected = render_mail("redirected", _context(reason="属个人求决事项"))
    assert "12345" in redirected.text and "信访" in redirected.text and "属个人求决事项" in redirected.html
    no_reason = render_mail("outcome", _context(reason=None))
    assert "说明" not in no_reason.text and "None" not in no_reason.text


def test_html_escapes_what_people_typed_and_text_keeps_it() -> None:
    mail = render_mail(
        "reply",
        _context(title="<script>alert(1)</script>", reply_text="a < b & c", proposer_name="<b>王</b>"),
    )
    assert "<script>" not in mail.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "a &lt; b &amp; c" in mail.html
    assert "&lt;b&gt;王&lt;/b&gt;" in mail.html
    assert "<script>alert(1)</script>" in mail.text and "a < b & c" in mail.text


def test_no_name_greets_the_proposer_as_such_and_names_nobody_else() -> None:
    mail = render_mail("merged", _context(proposer_name=None))
    assert mail.text.startswith("建议人：您好！")
    # Only the proposer's own data: the original's tracking code, never its proposer.
    assert "李明" not in mail.text + mail.html


def test_unknown_template_is_refused() -> None:
    with pytest.raises(UnknownTemplate, match="thanks"):
        render_mail("thanks", _context())
    assert "acknowledgement" in template_names("sms") and "reply" not in template_names("sms")


def test_with_query_adds_to_an_existing_query_or_starts_one() -> None:
    assert with_query("http://x/track/A?check=1", rate="1") == "http://x/track/A?check=1&rate=1"
    assert with_query("http://x/track/A", rate="1") == "http://x/track/A?rate=1"
