"""The typed refusals of the verification API: each has an HTTP status, a stable code and a message."""

from __future__ import annotations

from typing import Any

from schemas.errors import GovhubError

__all__ = ["MESSAGES_ZH", "VerificationError", "field_zh"]

MESSAGES_ZH = {
    "missing_key": "缺少客户端密钥（X-Client-Key）",
    "invalid_key": "客户端密钥无效、已停用或已更换",
    "item_not_granted": "该核验事项未授权给本系统",
    "unknown_item": "核验事项不存在",
    "rate_limited": "超过每分钟核验次数上限，请稍后再试",
    "missing_field": "缺少必填项（办件编号、用途或参数）",
    "malformed_json": "请求体不是合法的 JSON 对象",
    "malformed_subject": "核验对象格式不正确",
    "invalid_subject": "核验对象不符合数据标准",
    "invalid_check_digit": "证件号码或统一社会信用代码校验位错误",
    "invalid_request": "请求参数不正确",
    "too_large": "请求过大",
    "subject_not_found": "未查到该核验对象",
    "store_unavailable": "该资源暂未提供核验服务",
    "log_unavailable": "交换日志暂不可用，本次核验未出具结果，请稍后再试",
}

# Request members in Chinese; a subject's or parameter's own name comes from the contracts.
_MEMBERS_ZH = {
    "case_number": "办件编号",
    "purpose": "用途",
    "params": "参数",
    "subject": "核验对象",
    "subjects": "核验对象列表",
}


def field_zh(field: str) -> str:
    """A request member (`subject.id_number`, `params.year`) in Chinese, for `message_zh`."""
    from schemas import load_all

    labels = {f.name: f.label for contract in load_all().values() for f in contract.fields}
    parts = [p for p in field.replace("[", ".").replace("]", "").split(".") if p and not p.isdigit()]
    return "·".join(_MEMBERS_ZH.get(p) or labels.get(p) or p for p in parts)


class VerificationError(GovhubError):
    """A verification request refused or failed; `code` is stable, `message` names what to fix.

    Messages never quote stored data: only what the caller sent (field names, rule names) and the
    catalogue. `field` names the request member at fault, when there is one.
    """

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None, field_label: str | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.field_label = field_label  # the member's Chinese name when the caller knows it best
        super().__init__(f"{status} {code}: {message}")

    def body(self) -> dict[str, Any]:
        """The JSON error document the API returns."""
        error: dict[str, Any] = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "message_zh": MESSAGES_ZH.get(self.code, "核验请求未能完成"),
        }
        if self.field is not None:  # as complete as the English message: name the member at fault
            error["message_zh"] += f"：{self.field_label or field_zh(self.field)}"
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}
