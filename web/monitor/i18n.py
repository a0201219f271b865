"""The hub's one message catalogue for pages: Chinese first, English with `?lang=en`.

`LABELS` holds every fixed text of the monitor, the landing page and the check page, and the names
of the hub's own codes (event types, rules, outcomes, delivery modes, alert levels, error codes,
alert texts with `{placeholders}`). Names the contracts own (resources, fields, source systems)
come from the contracts (`resource_label`, `field_label`, `system_label`), never re-typed here.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from schemas import Contract, load_all, load_systems

__all__ = [
    "LABELS",
    "Lang",
    "coded",
    "field_label",
    "label",
    "one_language",
    "party_label",
    "pick_lang",
    "resource_label",
    "run_error_label",
    "system_label",
    "texts",
]

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
    "case_number": ("办件编号", "Case number"),
    "subject": ("主体证件号", "Subject ID"),
    "newest": ("最新", "Newest"),
    "oldest": ("最早", "Oldest"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "api_key": ("部门 API 密钥", "Department API key"),
    "login_admin": ("数据管理员登录", "Data administrator"),
    "login_department": ("部门登录（仅查看本部门交换）", "Department (sees its own exchanges only)"),
    "login_failed": ("用户名、密码或密钥不正确", "Wrong user name, password or key"),
    "login_throttled": (
        "登录失败次数过多，请稍后再试（账号或地址已被暂时锁定）",
        "Too many failed sign-ins: try again later (the account or address is locked for a while)",
    ),
    "csrf_failed": (
        "页面已过期或请求来源不可信，请刷新页面后重新登录",
        "The form expired or came from another site: reload and sign in again",
    ),
    "pii_masked": ("个人信息已脱敏", "Personal data masked"),
    "pii_show_clear": ("查看明文（将记入交换日志）", "Show clear values (logged in the exchange log)"),
    "pii_clear_shown": (
        "正在查看明文个人信息，本次查看已记入交换日志",
        "Clear personal data shown; this view is logged",
    ),
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
    "unpublished": ("尚无发布版本", "no published version"),
    "nothing_accepted": ("无一入库", "nothing accepted"),
    "succeeded_with_problems": ("成功但有问题", "succeeded with problems"),
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
    # sharing disputes on the sharing page and the alerts
    "disputes": ("共享争议协调", "Sharing disputes"),
    "disputes_none_open": ("暂无待处理的共享争议", "No open disputes"),
    "dispute_application": ("共享申请", "Application"),
    "dispute_raised_by": ("提请部门", "Raised by"),
    "dispute_grounds": ("提请理由", "Grounds"),
    "dispute_raised_at": ("提请时间", "Raised"),
    "dispute_age": ("已历时", "Age"),
    "dispute_age_days": ("{days} 天", "{days} d"),
    "dispute_due": ("处理期限", "Due"),
    "dispute_left": ("剩余工作日", "Working days left"),
    "dispute_days_left": ("剩 {n} 个工作日", "{n} left"),
    "dispute_days_overdue": ("已逾期 {n} 个工作日", "overdue by {n}"),
    "dispute_decisions": ("已处理的争议", "Decisions"),
    "dispute_outcome": ("处理结果", "Outcome"),
    "dispute_reason": ("处理理由", "Reasons"),
    "dispute_decided_at": ("处理时间", "Decided"),
    "dispute_status_open": ("待处理", "open"),
    "dispute_status_granted": ("准予共享", "granted"),
    "dispute_status_upheld": ("维持不予共享", "refusal upheld"),
    "alert_dispute_overdue": ("共享争议逾期未处理", "Overdue sharing dispute"),
    "alert_text_dispute_overdue": (
        "共享争议 #{id}（{department} 就申请 #{application} 提请）已于 {due} 到期仍未处理：请共享主管部门尽快作出决定",
        "dispute #{id} ({department}, application #{application}) undecided since {due}: decide it "
        "(POST /api/disputes/{id}/decide or govhub dispute decide)",
    ),
    "alert_failed_run": ("采集失败", "Failed run"),
    "alert_stale": ("数据超期未更新", "Stale resource"),
    "alert_not_fresh": ("数据未及时发布", "Nothing published"),
    "alert_source_problems": ("采集成功但有问题", "Succeeded with problems"),
    "alert_quality_drop": ("质量评分下降", "Quality drop"),
    "alert_denials": ("拒绝访问激增", "Denied-access spike"),
    "alert_chain": ("交换日志哈希链断裂", "Exchange-log chain break"),
    "alert_full_walk": ("交换日志全量校验未按时运行", "No recent full walk of the exchange log"),
    "alert_unsigned_tail": ("交换日志未签名尾部过长", "Long unsigned tail of the exchange log"),
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
    # event types of the exchange log
    # the person's access record (/access-record/print/{token}): who asked about them, who received their record
    "ar_title": ("数据使用记录（谁查了我的数据）", "Access record (who used my data)"),
    "ar_subject": ("证件号码", "ID number"),
    "ar_kind_person": ("自然人", "person"),
    "ar_kind_entity": ("法人及其他组织", "entity"),
    "ar_generated": ("生成时间（北京时间）", "Generated (Beijing time)"),
    "ar_queries": ("核验查询：审批系统向平台核验您的信息", "Verification queries about you"),
    "ar_deliveries": ("数据交付：含有您信息的数据交付给了哪些部门", "Deliveries of data holding your record"),
    "ar_time": ("时间（北京时间）", "Time (Beijing time)"),
    "ar_client": ("查询单位（审批系统）", "Asked by (approval system)"),
    "ar_item": ("核验事项", "Item"),
    "ar_case": ("办件编号", "Case number"),
    "ar_purpose": ("用途", "Purpose"),
    "ar_answer": ("平台答复", "Answer given"),
    "ar_department": ("接收部门", "Department"),
    "ar_resource": ("数据资源", "Resource"),
    "ar_share_purpose": ("共享用途（申请时所述）", "Purpose of the subscription"),
    "ar_mode": ("交付方式", "Mode"),
    "ar_versions": ("数据版本", "Versions"),
    "ar_snapshot": ("全量（截至版本 {to}）", "snapshot up to version {to}"),
    "ar_range": ("版本 {start} 至 {to} 的变更", "changes of versions {start} to {to}"),
    "ar_none": ("暂无记录", "None"),
    "ar_truncated": ("仅显示最近 1000 条；如需全部记录，请向平台管理员申请", "Only the newest 1,000 are shown"),
    "ar_match_yes": ("符合", "matches"),
    "ar_match_no": ("不符合", "does not match"),
    "ar_found_no": ("未查到记录", "no record found"),
    "ar_fields": ("提供了：{fields}", "disclosed: {fields}"),
    "ar_answered": ("已答复", "answered"),
    "ar_note": (
        "核验查询只向审批系统答复“符合/不符合”或所列信息项，不提供其他信息；数据交付按共享申请所述用途和范围使用。"
        "如对记录有疑问，可通过政务服务应用提出。",
        "A verification answer tells the approval system only what is listed; deliveries are for the "
        "subscription's stated purpose. Questions go through the 政务服务 app.",
    ),
    "ar_basis": (
        "依据《政务数据共享条例》（国务院令第809号）",
        "Under the 政务数据共享条例 (State Council Decree 809)",
    ),
    "ar_print": ("打印", "Print"),
    "ar_lang": ("English", "中文"),
    "ar_missing": ("链接无效或已过期", "This link is not valid or has expired"),
    "ar_missing_hint": (
        "请回到政务服务应用重新查询数据使用记录，获取新的打印链接（链接半小时内有效）。",
        "Open your access record in the 政务服务 app again for a new link (links last half an hour).",
    ),
    "ar_unavailable": ("暂时无法提供数据使用记录", "The access record cannot be shown just now"),
    "ar_unavailable_hint": (
        "交换日志暂不可用，为保证每次查看都有记录，本次不予显示，请稍后再试。",
        "The exchange log is unavailable; every view must be logged, so none is shown. Try again later.",
    ),
    "ev_access_record": ("本人查询数据使用记录", "access record read"),
    "ev_ingest": ("采集", "ingest"),
    "ev_quarantine": ("隔离", "quarantine"),
    "ev_publish": ("发布", "publish"),
    "ev_delivery": ("交付", "delivery"),
    "ev_verification": ("核验", "verification"),
    "ev_denial": ("拒绝访问", "denial"),
    "ev_subscription": ("共享申请", "subscription"),
    "ev_admin": ("管理操作", "admin"),
    # quality rules (quality/compile.py, quality/verdict.py)
    "rule_required": ("必填", "required"),
    "rule_type": ("数据类型", "type"),
    "rule_unique": ("主键唯一", "unique"),
    "rule_enum": ("代码表取值", "code table"),
    "rule_range": ("取值范围", "range"),
    "rule_length": ("长度", "length"),
    "rule_pattern": ("格式", "pattern"),
    "rule_not_future": ("不晚于当天", "not in the future"),
    "rule_not_before_field": ("日期先后", "date order"),
    "rule_gb11643": ("公民身份号码校验（GB 11643）", "citizen ID check (GB 11643)"),
    "rule_gb32100": ("统一社会信用代码校验（GB 32100）", "USCC check (GB 32100)"),
    "rule_gb2260": ("行政区划代码（GB/T 2260）", "region code (GB/T 2260)"),
    "rule_id_birth_date": ("出生日期与身份号码一致", "birth date matches the ID"),
    "rule_id_gender": ("性别与身份号码一致", "gender matches the ID"),
    "rule_uscc_entity_type": ("机构类型与信用代码一致", "entity type matches the USCC"),
    "rule_references": ("引用的记录存在", "referenced record exists"),
    "rule_deleted": ("源系统已删除", "deleted at the source"),
    # delivery modes, alert levels, OpenLineage event types
    "mode_database": ("库表", "database"),
    "mode_file": ("文件", "file"),
    "mode_api": ("接口", "API"),
    "severity_critical": ("严重", "critical"),
    "severity_warning": ("警告", "warning"),
    "ol_START": ("开始", "START"),
    "ol_COMPLETE": ("完成", "COMPLETE"),
    "ol_FAIL": ("失败", "FAIL"),
    "ol_ABORT": ("中止", "ABORT"),
    "ol_RUNNING": ("运行中", "RUNNING"),
    "ol_event": ("事件", "event"),
    "ol_job": ("作业", "job"),
    "ol_inputs": ("输入", "inputs"),
    "ol_outputs": ("输出", "outputs"),
    # parties named in the exchange log's source and target
    "party_hub": ("共享交换平台", "the hub"),
    "party_curated": ("共享库", "curated"),
    "party_quarantine": ("隔离区", "quarantine"),
    "party_unknown_client": ("未知客户端（密钥无效）", "unknown client (bad key)"),
    # error codes of refusals and failures (exchange log `error_code`)
    "err_bad_key": ("密钥无效", "bad key"),
    "err_invalid_key": ("密钥无效", "invalid key"),
    "err_missing_key": ("未提供密钥", "no key"),
    "err_unauthenticated": ("未登录或密钥无效", "not signed in"),
    "err_forbidden": ("无权访问", "forbidden"),
    "err_not_visible": ("访问其他部门的记录", "another department's record"),
    "err_not_granted": ("未获批准", "not granted"),
    "err_login_failed": ("登录失败", "sign-in failed"),
    "err_too_large": ("请求过大", "request too large"),
    "err_malformed_json": ("请求不是有效的 JSON", "malformed JSON"),
    "err_malformed_request": ("请求格式错误", "malformed request"),
    "err_invalid_request": ("请求内容不合规", "invalid request"),
    "err_method_not_allowed": ("请求方法不允许", "method not allowed"),
    "err_conflict": ("重复或冲突的请求", "conflict"),
    "err_subject_not_found": ("未查到核验对象", "subject not found"),
    "err_log_unavailable": ("交换日志不可写", "exchange log unavailable"),
    "err_run_failed": ("运行失败", "run failed"),
    "err_target_invalid": ("交付目标无效", "delivery target invalid"),
    "err_target_unreachable": ("交付目标不可达", "delivery target unreachable"),
    "err_target_write_failed": ("写入交付目标失败", "writing the delivery target failed"),
    "err_bad_mode": ("交付方式无效", "bad delivery mode"),
    "err_refused": ("已拒绝", "refused"),
    # alert texts
    "alert_text_denials": (
        "过去一小时拒绝访问 {total} 次（阈值 {threshold} 次）：{by}",
        "{total} denied in the last hour (> {threshold}): {by}",
    ),
    "alert_text_source_problems": ("运行 {run} 成功，但源系统有 {n} 个文件被拒收", ""),
    "alert_text_full_walk": ("两天内未完整校验交换日志（{when}）：请在命令行校验交换日志，或启用定时校验作业", ""),
    "alert_text_unsigned_tail": ("最新签名检查点之后有 {n} 个事件未签名：请在命令行生成签名检查点", ""),
    "alert_text_stale": ("已超期 {hours} 小时未更新（最近成功：{last}）", "overdue by {hours} h (last success {last})"),
    "alert_text_quality_drop": ("{dimension}：版本 {old_version} {old} → 版本 {new_version} {new}", ""),
    "alert_text_failed_run": ("运行 {run}（{stage}阶段）失败：{reason}", "{run} ({stage}): {reason}"),
    "alert_text_chain": ("{problem}：序号 {seq}，事件 {event}", "{problem}: seq {seq}, event {event}. {detail}"),
    # why a run failed, for readers (the raw exception stays in the run record and the English page)
    "run_error_connect": ("无法连接源系统（连接被拒绝或网络不通），请检查源系统是否在线", ""),
    "run_error_timeout": ("源系统响应超时，请稍后重试或联系源系统管理员", ""),
    "run_error_auth": ("源系统拒绝了平台的凭据（401/403），请检查访问令牌", ""),
    "run_error_drift": ("源数据结构与数据契约不一致（字段增减或类型变化），已按契约规定处理", ""),
    "run_error_http": ("源系统返回错误状态，请联系源系统管理员", ""),
    "run_error_other": ("运行出错，详情见运行记录（英文界面可查看原始错误）", ""),
    "stage_extract": ("抽取", "extract"),
    "stage_validate": ("校验", "validate"),
    "stage_publish": ("发布", "publish"),
    "stage_register": ("登记", "register"),
    "stage_advance": ("推进水位", "advance"),
    # quality dimensions (GB/T 36344)
    "dim_conformance": ("规范性", "conformance"),
    "dim_completeness": ("完整性", "completeness"),
    "dim_accuracy": ("准确性", "accuracy"),
    "dim_consistency": ("一致性", "consistency"),
    "dim_timeliness": ("时效性", "timeliness"),
    "dim_accessibility": ("可访问性", "accessibility"),
    "hours": ("小时", "h"),
    "job": ("作业", "job"),
    "run_id": ("运行编号", "run id"),
    # the printable answer and the public check page (/verify/answer/..., /check)
    "verify_title": ("数据核验结果（电子核验凭证）", "Verification result (sealed answer)"),
    "verify_item": ("核验事项", "Item"),
    "verify_replaces": ("替代证明材料", "Replaces the proof"),
    "verify_basis": ("法律依据", "Legal basis"),
    "verify_case": ("办件编号", "Case number"),
    "verify_result": ("核验结果", "Result"),
    "verify_yes": ("是（核验一致）", "Yes (verified)"),
    "verify_no": ("否（核验不一致或无记录）", "No (does not match, or no record)"),
    "verify_dataset": ("数据来源", "Data source"),
    "verify_version": ("数据版本", "Dataset version"),
    "verify_issued": ("出具时间（北京时间）", "Issued (Beijing time)"),
    "verify_key": ("签章密钥", "Seal key"),
    "verify_answer_id": ("凭证编号", "Answer ID"),
    "verify_scan": (
        "扫描二维码或在核验页面粘贴凭证 JSON 即可离线验证电子签章。",
        "Scan the QR code, or paste the answer's JSON on the check page, to verify the seal offline.",
    ),
    "verify_check_title": ("电子核验凭证验证", "Check a sealed answer"),
    "verify_paste": ("粘贴或扫码录入凭证 JSON", "Paste (or scan) the sealed answer JSON"),
    "verify_submit": ("验证", "Check"),
    "verify_ok": ("验证通过：签章有效，内容未被篡改", "Verified: the seal is valid and the content unchanged"),
    "verify_bad": ("验证未通过", "Not verified"),
    "verify_reason": ("原因", "Reason"),
    "verify_print": ("打印", "Print"),
    "verify_not_found": ("未找到该核验凭证", "No such answer"),
    "verify_lang": ("English", "中文"),
    "verify_found_no": ("未查到该对象", "no record"),
    "verify_no_qr": (
        "凭证内容超出二维码容量，请向审批系统索取凭证 JSON 后在核验页面粘贴验证。",
        "The answer is too large for a QR code: check its JSON (from the approval system) on the check page.",
    ),
    "verify_reason_malformed": ("不是有效的电子核验凭证", "not a sealed answer"),
    "verify_reason_key_id": ("签章密钥不是本平台的密钥", "sealed with another key"),
    "verify_reason_signature": ("签章与内容不符", "signature does not match"),
    "verify_reason_request_hash": ("凭证不是为此请求出具的", "sealed for another request"),
    "verify_why_malformed": (
        "粘贴的内容不是完整的核验凭证：请粘贴凭证的全部 JSON 文本（以 { 开始、以 } 结束），或重新扫描二维码。",
        "",
    ),
    "verify_why_key_id": ("该凭证由其他密钥签章，不是本平台出具，或平台已更换密钥。请向出具单位核实。", ""),
    "verify_why_signature": ("凭证内容在签章后被改动（哪怕一个字符），或从未由本平台签章。该凭证不可采信。", ""),
    "verify_why_request_hash": ("凭证是为另一份核验请求出具的，与本次请求不符。", ""),
    # approvals in the browser (/monitor/sharing/{id})
    "approval_title": ("共享申请", "Application"),
    "approval_applicant": ("申请部门", "Applicant"),
    "approval_provider": ("提供部门", "Provider"),
    "approval_fields": ("申请的信息项", "Fields asked for"),
    "approval_pii": ("个人信息", "Personal information"),
    "approval_pii_identifier": ("身份标识", "identifier"),
    "approval_pii_personal": ("个人信息", "personal"),
    "approval_pii_sensitive": ("敏感个人信息", "sensitive"),
    "approval_pii_unmasked": ("申请获取未脱敏的个人信息", "asks for unmasked personal information"),
    "approval_pii_masked": ("个人信息脱敏交付", "personal information delivered masked"),
    "approval_legal_basis": ("法律依据", "Legal basis"),
    "approval_days_left": ("剩余 {n} 个工作日", "{n} working days left"),
    "approval_days_over": ("已超期 {n} 个工作日", "{n} working days overdue"),
    "approval_reason": ("理由", "Reasons"),
    "approval_reason_hint": ("答复意见（不予共享时必须说明理由）", "Reasons (required to refuse)"),
    "approval_decide": ("答复", "Decide"),
    "approval_approve": ("同意共享", "Grant"),
    "approval_refuse": ("不予共享", "Refuse"),
    "approval_done_approve": ("已同意共享", "Granted"),
    "approval_done_refuse": ("已答复不予共享", "Refused"),
    "approval_history": ("办理记录", "History"),
    "approval_action": ("操作", "Action"),
    "approval_note": ("说明", "Note"),
    "approval_open": ("查看并答复", "Open"),
    "approval_not_found": ("申请不存在或无权查看", "No such application, or not yours to see"),
    "approval_cross_site": ("拒绝来自其他网站的提交", "Refused: posted from another site"),
    "approval_choose": ("请选择同意共享或不予共享", "Choose grant or refuse"),
    "approval_provider_only": ("只有提供部门（{provider}）可以答复", "Only the provider ({provider}) decides"),
    "approval_failed": ("答复未能保存", "The decision was not saved"),
    "catalogue": ("资源目录", "Catalogue"),
    "catalogue_code": ("资源代码", "Code"),
    "catalogue_sharing": ("共享类型", "Sharing type"),
    "catalogue_cycle": ("更新周期", "Update cycle"),
    "catalogue_abstract": ("摘要", "Abstract"),
    "apply": ("申请共享", "Apply"),
    "apply_submit": ("提交申请", "Submit the application"),
    "apply_pii": (
        "申请获取未脱敏的个人信息（须提供部门同意）",
        "Ask for unmasked personal information (the provider decides)",
    ),
    "apply_key_always": ("主键，总是包含", "the key, always included"),
    "apply_scope": ("使用范围（系统、业务、人员）", "Scope of use (system, business, staff)"),
    "apply_valid_until": ("使用期限（截止日期）", "Term of use (last day)"),
    "apply_bad_term": ("使用期限须为日期，如 2027-12-31", "The term of use must be a date, e.g. 2027-12-31"),
    "apply_departments_only": (
        "只有部门可以申请：请以部门 API 密钥登录",
        "Only departments apply: sign in with the department's key",
    ),
    "apply_bad_mode": ("交付方式无效：请选择文件或接口", "Choose file or API delivery"),
    "sub_applied": ("提出申请", "applied"),
    "sub_auto_granted": ("无条件共享，自动批准", "granted (unconditional)"),
    "sub_auto_refused": ("不予共享类资源，自动拒绝", "refused (not shared)"),
    "sub_granted": ("同意共享", "granted"),
    "sub_refused": ("不予共享", "refused"),
    "sub_overdue": ("逾期未答复", "overdue"),
    "sub_revoked": ("撤销", "revoked"),
    "verify_valid": ("签章有效：{item}，数据版本 {version}，出具时间 {issued}（北京时间）", ""),
}


def pick_lang(value: str | None) -> Lang:
    """`en` when asked for, Chinese otherwise."""
    return "en" if (value or "").lower().startswith("en") else "zh"


def label(key: str, lang: Lang = "zh", /, **params: object) -> str:
    """The text for `key` in `lang`, `{placeholders}` filled; an unknown key shows as itself (visible, no error).

    An empty English text means the English page shows the original (usually English) detail instead.
    """
    pair = LABELS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" and pair[1] else pair[0]
    return text.format(**params) if params else text


def texts(prefix: str, lang: Lang = "zh") -> dict[str, str]:
    """Every text whose key starts with `prefix`, keyed without it (for templates that read `t.name`)."""
    return {key.removeprefix(prefix): label(key, lang) for key in LABELS if key.startswith(prefix)}


def one_language(text: str | None, lang: Lang = "zh") -> str:
    """The part of a "中文 — English" text in `lang` (texts without the separator pass as they are)."""
    if not text or " — " not in text:
        return text or ""
    zh, _, en = text.partition(" — ")
    return en if lang == "en" else zh


def coded(prefix: str, code: str | None, lang: Lang = "zh") -> str:
    """The name of one of the hub's codes (`ev_`, `rule_`, `mode_`, `err_`...); unknown codes show as they are."""
    if not code:
        return "—"
    key = f"{prefix}_{code}"
    return label(key, lang) if key in LABELS else code


@cache
def _contracts() -> dict[str, Contract]:
    return load_all()


def resource_label(resource: str | None, lang: Lang = "zh") -> str:
    """A resource's title from its contract (人口基础信息 / Population base information)."""
    contract = _contracts().get(resource or "")
    if contract is None:
        return resource or "—"
    return contract.title_en if lang == "en" else contract.title


def field_label(resource: str | None, field: str | None, lang: Lang = "zh") -> str:
    """A field's label from its contract; a composite key `a,b` labels each part."""
    if not field:
        return "—"
    contract = _contracts().get(resource or "")
    labels = {}
    if contract is not None:
        labels = {f.name: (f.label_en if lang == "en" else f.label) for f in contract.fields}
    if resource is None:  # any resource: the first contract that has the field
        for other in _contracts().values():
            for f in other.fields:
                labels.setdefault(f.name, f.label_en if lang == "en" else f.label)
    return "、".join(labels.get(part.strip(), part.strip()) for part in field.split(","))


def system_label(system: str | None, lang: Lang = "zh") -> str:
    """A source system's name from schemas/systems.yaml (人口基础信息库)."""
    entry = load_systems().get(system or "", {})
    return str(entry.get("label_en" if lang == "en" else "label") or system or "—")


def party_label(party: str | None, lang: Lang = "zh", names: dict[str, str] | None = None) -> str:
    """A source or target of the exchange log in words: the hub, a system, a dataset, a department, a client."""
    if not party:
        return "—"
    names = names or {}
    if party in names:
        return names[party]
    if party in ("hub", "govhub", "web"):
        return label("party_hub", lang)
    if party in ("client:unknown", "unknown"):
        return label("party_unknown_client", lang)
    kind, _, rest = party.partition("/")
    if kind in ("curated", "quarantine") and rest:
        return f"{label('party_' + kind, lang)}·{resource_label(rest, lang)}"
    if kind == "department" and rest:
        code, _, resource = rest.partition("/")
        return f"{names.get(code, code)}·{resource_label(resource, lang)}" if resource else names.get(code, code)
    if party in load_systems():
        return system_label(party, lang)
    if party.startswith("client:"):
        return names.get(party.removeprefix("client:"), party.removeprefix("client:"))
    return party


_RUN_ERRORS = (
    ("run_error_connect", re.compile(r"connect|connection|refused|unreachable|name or service", re.I)),
    ("run_error_timeout", re.compile(r"timed? ?out|timeout", re.I)),
    ("run_error_auth", re.compile(r"\b(401|403)\b|unauthori[sz]ed|forbidden", re.I)),
    ("run_error_drift", re.compile(r"drift|schema", re.I)),
    ("run_error_http", re.compile(r"\bHTTP\b|status \d{3}", re.I)),
)


def run_error_label(error: str | None, lang: Lang = "zh") -> str:
    """Why a run failed, for a reader: Chinese words by cause; the English page keeps the raw error text."""
    if not error:
        return ""
    if lang == "en":
        return error
    for key, pattern in _RUN_ERRORS:
        if pattern.search(error):
            return label(key, lang)
    return label("run_error_other", lang)
