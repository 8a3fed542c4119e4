"""Forms from models: a step's input form is generated from its JSON schema (one macro renders it,
templates/web/_form.html.j2), the posted form turned back into the payload the same Pydantic model
validates, and validation errors put in Chinese beside their field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jianyi.errors import field_errors

LABELS = {
    "kind": "类型", "category": "类别", "level": "等级", "lead_unit": "主办单位（代码）",
    "co_units": "协办单位（代码，以逗号分隔）", "duplicate_of": "原建议跟踪编号", "reason_code": "原因代码",
    "note": "备注", "held_at": "时间", "method": "方式", "participants": "参加人员", "refined": "完善内容",
    "has_instruction": "有领导批示", "leader": "批示领导", "instructed_on": "批示日期", "text": "内容",
    "reasons": "理由", "suggested_unit": "建议的责任单位（代码）", "accept_objection": "同意异议",
    "summary": "情况摘要", "opinion": "意见", "measures": "措施", "decision": "办理意见",
    "planned_completion": "计划完成日期", "consultation": "征求建议人意见情况", "working_days": "工作日数",
    "approved": "同意", "action": "处理", "joint_meeting": "联席会议", "units": "参加单位（代码，以逗号分隔）",
    "conclusions": "会议结论", "held_on": "召开日期", "replied_at": "答复时间", "rating": "评价",
    "comment": "意见", "percent": "完成百分比", "milestone": "进展节点", "form": "落实形式",
    "evidence": "文号或链接", "implemented": "已全部落实", "year": "年度", "selected": "入选",
    "tier": "等次", "response": "情况说明", "expected_completion": "预计完成日期",
    "title": "标题", "problem": "存在的问题", "grounds": "依据和理由", "proposal": "具体建议措施",
    "name": "姓名或单位名称", "phone": "手机或电话", "email": "电子邮箱", "address": "通信地址",
}  # fmt: skip
VALUES = {
    "adopt": "采纳", "partly_adopt": "部分采纳", "keep_for_reference": "留作参考", "not_adopt": "不予采纳",
    "email": "电子邮件", "phone": "电话", "letter": "信函", "sms": "短信", "meeting": "座谈", "in_person": "当面",
    "online": "网上", "general": "一般", "important": "重要", "suggestion": "建议", "complaint": "投诉诉求",
    "out_of_scope": "不属于征集范围", "duplicate": "重复建议", "accept": "同意", "return": "退回重办",
    "joint_meeting": "召开联席会议", "satisfied": "满意", "basically_satisfied": "基本满意",
    "not_satisfied": "不满意", "rehandle": "重新办理", "close": "办结", "welfare_measure": "惠民举措",
    "work_improvement": "改进工作", "law_or_policy_input": "法规政策参考", "npc_oversight_topic": "人大监督议题",
    "deputies_bill_input": "代表议案参考", "decision_reference": "决策参考", "other": "其他",
}  # fmt: skip

_MESSAGES = {
    "missing": "请填写此项",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "too_short": "至少需要填写一项",
    "too_long": "项目过多",
    "enum": "请从选项中选择",
    "literal_error": "请从选项中选择",
    "int_parsing": "请填写整数",
    "int_type": "请填写整数",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "bool_parsing": "请选择是或否",
    "date_from_datetime_parsing": "请填写日期（年-月-日）",
    "date_parsing": "请填写日期（年-月-日）",
    "datetime_parsing": "请填写日期和时间",
    "datetime_from_date_parsing": "请填写日期和时间",
    "value_error": "填写有误",
    "extra_forbidden": "多余的字段",
}


# A format the models check by a validator of their own (its reason in English): said in Chinese.
_FORMATS = {
    "phone": "请填写大陆手机号（如 13812345678）或固定电话（如 021-62781234）",
    "email": "请填写有效的电子邮箱地址（如 name@example.com）",
}


def chinese(errors: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Pydantic's errors as {dotted field: Chinese message}; a model validator's own English reason
    (which names its field) is kept after the Chinese one."""
    named = field_errors(errors)
    result: dict[str, str] = {}
    for err, named_err in zip(errors, named, strict=True):
        kind = str(err.get("type", "value_error"))
        message = _MESSAGES.get(kind, "填写有误")
        ctx = err.get("ctx") or {}
        if kind == "string_too_short" and "min_length" in ctx:
            message = f"至少 {ctx['min_length']} 个字"
        elif kind == "string_too_long" and "max_length" in ctx:
            message = f"最多 {ctx['max_length']} 个字"
        elif kind == "value_error" and str(err["loc"][-1] if err.get("loc") else "") in _FORMATS:
            message = _FORMATS[str(err["loc"][-1])]
        elif kind == "value_error":
            message = f"填写有误：{named_err['message']}"
        # A model validator may name several fields ("measures, planned_completion"): beside each.
        prefix, _, last = named_err["field"].rpartition(".")
        for name in last.split(", "):
            result.setdefault(f"{prefix}.{name}" if prefix else name, message)
    return result


@dataclass
class FormField:
    """One input of a generated form."""

    name: str  # dotted for a nested object's field
    label: str
    widget: str  # text, textarea, date, datetime, number, checkbox, select, list
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    help: str | None = None
    maximum: int | None = None


def _chinese_only(text: str | None) -> str | None:
    # The models' descriptions are for the API's English readers; the form shows only Chinese ones.
    return text if text and not text.isascii() else None


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return _resolve(schema, schema["$defs"][ref.rsplit("/", 1)[-1]])
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        return {**{k: v for k, v in node.items() if k != "anyOf"}, **_resolve(schema, options[0])}
    return node


def _widget(node: dict[str, Any]) -> str:
    kind, fmt = node.get("type"), node.get("format")
    if "enum" in node:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind == "integer":
        return "number"
    if kind == "array":
        return "list"
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    return "textarea" if (node.get("maxLength") or 0) > 2000 else "text"


def fields_of(
    schema: dict[str, Any], prefix: str = "", root: dict[str, Any] | None = None
) -> list[FormField]:
    """The inputs of a model's JSON schema, in its order; a nested object's fields follow, dotted."""
    root = root or schema
    required = set(schema.get("required", []))
    result: list[FormField] = []
    for name, raw in schema.get("properties", {}).items():
        node = _resolve(root, raw)
        dotted = f"{prefix}{name}"
        if node.get("type") == "object" or "properties" in node:
            result.extend(fields_of(node, f"{dotted}.", root))
            continue
        widget = _widget(node)
        options = [(str(v), VALUES.get(str(v), str(v))) for v in node.get("enum", [])]
        if "const" in node:
            options = [(str(node["const"]), VALUES.get(str(node["const"]), str(node["const"])))]
            widget = "select"
        result.append(
            FormField(
                name=dotted,
                label=LABELS.get(name, name),
                widget=widget,
                required=name in required and widget != "checkbox",
                options=options,
                help=_chinese_only(node.get("description")),
                maximum=node.get("maxLength"),
            )
        )
    return result


def payload_from(form: Mapping[str, str], fields: list[FormField]) -> dict[str, Any]:
    """The posted form as the model's input: blanks left out, a checkbox a boolean, a list split at
    commas, dotted names nested (a nested object left out when all its fields are blank)."""
    payload: dict[str, Any] = {}
    for f in fields:
        raw = (form.get(f.name) or "").strip()
        if f.widget == "checkbox":
            value: Any = raw in ("true", "on", "1")
        elif not raw:
            continue
        elif f.widget == "datetime" and len(raw) <= 16:
            value = f"{raw}+08:00"  # a datetime-local input is Shanghai wall time
        elif f.widget == "list":
            value = [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]
        else:
            value = raw
        *parents, last = f.name.split(".")
        target = payload
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    # A nested object whose only values are unticked checkboxes was not filled in.
    for key in [k for k, v in payload.items() if isinstance(v, dict) and not any(v.values())]:
        del payload[key]
    return payload
