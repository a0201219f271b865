"""The monitor's labels: Chinese by default, English with `?lang=en`; one small dict, no gettext."""

from __future__ import annotations

from typing import Literal

__all__ = ["LABELS", "Lang", "label", "pick_lang"]

Lang = Literal["zh", "en"]

LABELS: dict[str, tuple[str, str]] = {
    "app": ("益阳市政务数据共享交换平台 · 监控", "govhub monitor · Yiyang data exchange hub"),
    "overview": ("总览", "Overview"),
    "exchanges": ("交换量", "Exchange volume"),
    "quarantine": ("隔离数据", "Quarantine"),
    "sharing": ("共享与交付", "Sharing & deliveries"),
    "lineage": ("数据血缘", "Lineage"),
    "alerts": ("告警", "Alerts"),
    "log": ("交换日志", "Exchange log"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "api_key": ("部门 API 密钥", "Department API key"),
    "login_admin": ("数据管理员登录", "Data administrator"),
    "login_department": ("部门登录（仅查看本部门交换）", "Department (sees its own exchanges only)"),
    "login_failed": ("用户名、密码或密钥不正确", "Wrong user name, password or key"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "admin": ("数据管理员", "data administrator"),
    "chain_ok": ("交换日志哈希链已验证 ✓", "Exchange-log chain verified ✓"),
    "chain_broken": ("交换日志哈希链断裂 ✗", "Exchange-log chain BROKEN ✗"),
    "first_bad": ("首个异常事件", "first bad event"),
    "events": ("事件", "events"),
    "no_data": ("无数据", "No data"),
    "run_failed": ("采集失败", "Ingest failed"),
    "never_run": ("从未采集", "never run"),
    "system": ("源系统", "Source system"),
    "resource": ("资源", "Resource"),
    "last_run": ("最近运行", "Last run"),
    "outcome": ("结果", "Outcome"),
    "extracted": ("抽取", "Extracted"),
    "accepted": ("入库", "Accepted"),
    "rejected": ("拒收", "Rejected"),
    "version": ("版本", "Version"),
    "freshness": ("时效", "Freshness"),
    "fresh": ("及时", "fresh"),
    "overdue": ("已超期", "overdue"),
    "overdue_by": ("超期", "overdue by"),
    "succeeded": ("成功", "succeeded"),
    "failed": ("失败", "failed"),
    "running": ("运行中", "running"),
    "superseded": ("已取代", "superseded"),
    "quality_trend": ("数据质量评分趋势（GB/T 36344 六个维度，按版本）", "Quality scorecard by version (GB/T 36344)"),
    "by_source": ("按来源", "By source"),
    "by_department": ("按订阅部门", "By subscriber department"),
    "by_client": ("按核验客户端", "By verification client"),
    "days": ("天数", "Days"),
    "count": ("次数", "Count"),
    "rows": ("行数", "Rows"),
    "reason": ("原因", "Reason"),
    "rule": ("规则", "Rule"),
    "field": ("字段", "Field"),
    "value": ("问题值", "Offending value"),
    "message": ("说明", "Message"),
    "row_key": ("主键", "Row key"),
    "record": ("原始记录", "Record"),
    "run": ("运行", "Run"),
    "where": ("来源位置", "Source location"),
    "all": ("全部", "all"),
    "filter": ("筛选", "Filter"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "reasons_summary": ("拒收原因汇总", "Rejections by reason"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "page": ("页", "page"),
    "total": ("共", "total"),
    "pending_approvals": ("待审批的共享申请", "Pending applications"),
    "recent_deliveries": ("最近交付", "Recent deliveries"),
    "subscriptions": ("订阅", "Subscriptions"),
    "department": ("部门", "Department"),
    "applied_at": ("申请时间", "Applied"),
    "due_at": ("答复期限", "Due"),
    "status": ("状态", "Status"),
    "mode": ("方式", "Mode"),
    "versions": ("版本", "Versions"),
    "started": ("开始", "Started"),
    "finished": ("完成", "Finished"),
    "purpose": ("用途", "Purpose"),
    "type": ("类型", "Type"),
    "client": ("核验客户端", "Client"),
    "source": ("来源", "Source"),
    "target": ("目标", "Target"),
    "time": ("时间", "Time"),
    "since": ("起", "From"),
    "until": ("止", "To"),
    "seq": ("序号", "Seq"),
    "no_alerts": ("无告警", "No alerts"),
    "alert_failed_run": ("采集失败", "Failed run"),
    "alert_stale": ("数据超期未更新", "Stale resource"),
    "alert_quality_drop": ("质量评分下降", "Quality drop"),
    "alert_denials": ("拒绝访问激增", "Denied-access spike"),
    "alert_chain": ("交换日志哈希链断裂", "Exchange-log chain break"),
    "severity": ("级别", "Severity"),
    "detail": ("详情", "Detail"),
    "kind": ("类别", "Kind"),
    "forbidden": ("无权访问此页面", "You may not see this page"),
    "granted": ("已批准", "granted"),
    "pending": ("待审批", "pending"),
    "refused": ("已拒绝", "refused"),
    "revoked": ("已撤销", "revoked"),
    "done": ("完成", "done"),
    "ok": ("成功", "ok"),
    "denied": ("拒绝", "denied"),
    "error": ("错误", "Error"),
    "times_beijing": ("时间均为北京时间（UTC+8）", "All times are Beijing time (UTC+8)"),
    "home_title": ("益阳市政务数据共享交换平台", "govhub · Yiyang data exchange and sharing hub"),
    "home_intro": (
        "汇聚人口、法人、信用、非税等基础数据，按数据契约校验后共享给各部门，并以电子签章核验代替证明材料。",
        "Base registries checked against their data contracts, shared with departments, and sealed "
        "verification answers instead of paper proofs.",
    ),
    "home_monitor": ("监控", "Monitor"),
    "home_monitor_what": (
        "数据管理员与部门登录查看采集、质量、共享与交换日志",
        "for data administrators and departments: runs, quality, sharing, the exchange log",
    ),
    "home_docs": ("接口文档（Swagger UI）", "API docs (Swagger UI)"),
    "home_docs_what": (
        "部门与审批系统对接的 REST 接口，可在线试用",
        "the REST API for departments and approval systems, try it in the browser",
    ),
    "home_redoc": ("ReDoc 版", "ReDoc"),
    "home_check": ("核验结果查验", "Check a sealed answer"),
    "home_check_what": (
        "公开页面，无需登录：查验一份核验结果的签章是否有效",
        "public, no sign-in: check that a sealed verification answer is genuine",
    ),
    "home_key": ("平台公钥（SM2）", "The hub's public key (SM2)"),
    "home_key_what": ("离线查验签章所用的公钥", "for checking seals offline"),
}


def pick_lang(value: str | None) -> Lang:
    """`en` when asked for, Chinese otherwise."""
    return "en" if (value or "").lower().startswith("en") else "zh"


def label(key: str, lang: Lang = "zh") -> str:
    """The label for `key` in `lang`; an unknown key shows as itself (visible, not an error page)."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]
