"""The words of a table, one flat dictionary per language: data, not code.

A key is a column (`status` → its header), a column and a stored value (`status.open` → how
the table shows it), `yes` / `no` (booleans), `none` (an empty listing) or `count.one` /
`count.many` (the line under the table; `{n}` is the number of rows). What a dictionary does
not say is shown as stored: a column without a header keeps its name, an unknown value itself.

A listing adds its own words over the shared ones (LISTINGS, by command name), and a rule
family's command brings its own (Command.labels), so that `closed` can be 已关闭 for a task and
已结算 for a payout statement.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"

Words = Mapping[str, str]

_LEVELS_ZH = {"red": "红", "yellow": "黄", "green": "绿"}

SHARED: dict[str, Words] = {
    "en": {
        # a column holding an id with the name beside it is named for what it holds
        "subject_id": "subject",
        "assignee_id": "assignee",
        "recipient_id": "recipient",
        "owner_id": "owner",
        "customer_id": "customer",
        "yes": "yes",
        "no": "no",
        "none": "(none)",
        "count.one": "{n} row",
        "count.many": "{n} rows",
    },
    "zh": {
        "id": "编号",
        "rule": "规则",
        "subject_type": "对象类型",
        "subject_id": "对象",
        "assignee_id": "负责人",
        "recipient_id": "接收人",
        "owner_id": "负责人",
        "customer_id": "客户",
        "name": "名称",
        "grade": "等级",
        "since": "起始日期",
        "pooled": "公海",
        "due": "截止日期",
        "title": "任务",
        "status": "状态",
        "level": "级别",
        "message": "内容",
        "raised_on": "发出日期",
        "resolved_on": "解除日期",
        "job": "作业",
        "slot": "计划时间",
        "started_at": "开始时间",
        "finished_at": "结束时间",
        "as_of": "基准日期",
        "playbook_path": "规则文件",
        "playbook_hash": "规则版本",
        "emitted": "产出",
        "item_kind": "类型",
        "item_id": "条目",
        "channel": "渠道",
        "attempts": "尝试次数",
        "next_attempt_at": "下次尝试",
        "sent_at": "发送时间",
        "last_error": "最近错误",
        "cron": "cron",
        "timezone": "时区",
        "local": "本地时间",
        "utc": "UTC",
        "period": "周期",
        "metric": "指标",
        "target": "目标",
        "subject_type.customer": "客户",
        "subject_type.rep": "销售",
        "subject_type.org_unit": "组织",
        "subject_type.target": "目标",
        "subject_type.task": "任务",
        "subject_type.plan_task": "计划任务",
        "item_kind.task": "任务",
        "item_kind.alert": "预警",
        **{f"level.{level}": shown for level, shown in _LEVELS_ZH.items()},
        "status.open": "待办",
        "status.done": "已完成",
        "status.closed": "已关闭",
        "job.manual": "手动",
        "yes": "是",
        "no": "否",
        "none": "（无）",
        "count.many": "{n} 行",
    },
}

LISTINGS: dict[str, dict[str, Words]] = {
    "grades": {
        "en": {"count.one": "{n} grade", "count.many": "{n} grades"},
        "zh": {"sheet.grades": "客户等级", "count.many": "{n} 个客户等级"},
    },
    "tasks": {
        "en": {"count.one": "{n} task", "count.many": "{n} tasks"},
        "zh": {"sheet.tasks": "任务", "count.many": "{n} 条任务"},
    },
    "alerts": {
        "en": {"count.one": "{n} alert", "count.many": "{n} alerts"},
        "zh": {
            "sheet.alerts": "预警",
            "status.open": "未处理",
            "status.acknowledged": "已确认",
            "status.snoozed": "暂缓",
            "status.resolved": "已解除",
            "count.many": "{n} 条预警",
        },
    },
    "customers": {
        "en": {"count.one": "{n} customer", "count.many": "{n} customers"},
        "zh": {"sheet.customers": "客户", "name": "客户名称", "count.many": "{n} 个客户"},
    },
    "runs": {
        "en": {"count.one": "{n} run", "count.many": "{n} runs"},
        "zh": {
            "sheet.runs": "运行记录",
            "status.running": "运行中",
            "status.succeeded": "成功",
            "status.failed": "失败",
            "status.missed": "错过",
            "status.skipped": "跳过",
            "count.many": "{n} 次运行",
        },
    },
    "deliveries": {
        "en": {"count.one": "{n} delivery", "count.many": "{n} deliveries"},
        "zh": {
            "rule": "规则",
            "sheet.deliveries": "投递",
            "status.pending": "待发送",
            "status.sent": "已发送",
            "status.dead": "发送失败",
            "count.many": "{n} 条投递",
        },
    },
    "records": {
        "en": {"count.one": "{n} record", "count.many": "{n} records"},
        "zh": {"count.many": "{n} 条记录"},
    },
    "schedule": {
        "en": {"count.one": "{n} fire time", "count.many": "{n} fire times"},
        "zh": {"count.many": "{n} 个触发时间"},
    },
    "preview": {
        "en": {"count.one": "{n} row", "count.many": "{n} rows"},
        "zh": {"added": "新增", "removed": "取消", "count.many": "{n} 行"},
    },
}


# the words a listing of stored records keeps (`records`): its headers and values stay as
# stored, whatever the language, so that they read as the import columns do
BARE = ("yes", "no", "none", "count.one", "count.many")


def bare(found: Mapping[str, str]) -> dict[str, str]:
    """Only the words that are not headers or stored values: yes/no, none, the count line."""
    return {key: found[key] for key in BARE if key in found}


def words(
    language: str, listing: str = "", extra: Mapping[str, Words] | None = None
) -> dict[str, str]:
    """The dictionary of one listing in one language: the shared words, the listing's, then a
    rule family's command's own (`extra`, by language)."""
    return {
        **SHARED[language],
        **LISTINGS.get(listing, {}).get(language, {}),
        **(extra or {}).get(language, {}),
    }
