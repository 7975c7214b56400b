"""The names CRM exports give canonical columns and values, built in: a file with the headers
`编号,客户名称,负责人` or the channel `拜访` imports with no configuration. An import mapping
(`imports:` in the playbook or salesplay.toml, or `--map FILE.yaml`) adds to these and wins
over them (mapping.py); the README lists them.

Header names are matched ignoring the letter case of A–Z and the spaces around them; so are
the words for values.
"""

from __future__ import annotations

# kind -> canonical column -> the other names its header has in exports
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "org_units": {
        "id": ("编号", "部门编号", "组织编号", "机构编号"),
        "name": ("名称", "部门名称", "组织名称", "机构名称"),
        "parent_id": ("上级编号", "上级部门", "上级组织", "上级"),
        "kind": ("类型", "层级", "组织类型"),
        "manager_id": ("负责人", "经理", "主管"),
    },
    "reps": {
        "id": ("编号", "工号", "员工编号", "销售编号"),
        "name": ("姓名", "名称", "员工姓名", "销售姓名"),
        "org_unit_id": ("部门", "所属部门", "部门编号", "团队", "组织"),
        "manager_id": ("上级", "直属上级", "经理", "主管"),
        "hired_on": ("入职日期", "入职时间"),
        "left_on": ("离职日期", "离职时间"),
        "exam_score": ("考试成绩", "考试分数", "考核分数", "成绩"),
        "active": ("在职", "是否在职"),
        "email": ("邮箱", "电子邮件", "邮件"),
        "mobile": ("手机", "手机号", "手机号码"),
        "im_id": ("企业微信", "钉钉", "飞书", "IM账号"),
    },
    "customers": {
        "id": ("编号", "客户编号", "客户ID", "客户编码"),
        "name": ("名称", "客户名称", "客户名", "公司名称"),
        "owner_id": ("负责人", "销售", "客户经理", "归属销售", "所属销售"),
        "org_unit_id": ("部门", "所属部门", "部门编号", "团队"),
        "industry": ("行业", "所属行业"),
        "strategic": ("战略客户", "是否战略客户", "重点客户"),
        "status": ("状态", "客户状态"),
        "created_on": ("创建日期", "创建时间", "建档日期"),
    },
    "orders": {
        "id": ("编号", "订单编号", "订单号"),
        "customer_id": ("客户编号", "客户ID", "客户编码"),
        "rep_id": ("销售", "负责人", "业务员", "销售编号"),
        "amount": ("金额", "订单金额", "成交金额"),
        "ordered_on": ("下单日期", "订单日期", "下单时间"),
        "collected_amount": ("回款金额", "已回款", "已收金额"),
        "product": ("产品", "产品名称"),
    },
    "payments": {
        "id": ("编号", "回款编号", "收款编号"),
        "order_id": ("订单编号", "订单号"),
        "amount": ("金额", "回款金额", "收款金额"),
        "paid_on": ("回款日期", "收款日期", "付款日期"),
    },
    "surveys": {
        "id": ("编号", "问卷编号", "调查编号"),
        "customer_id": ("客户编号", "客户ID", "客户编码"),
        "surveyed_on": ("调查日期", "回访日期"),
        "nps": ("推荐值", "净推荐值"),
        "satisfaction": ("满意度",),
        "complaint": ("投诉", "是否投诉"),
    },
    "deals": {
        "id": ("编号", "商机编号"),
        "customer_id": ("客户编号", "客户ID", "客户编码"),
        "rep_id": ("销售", "负责人", "销售编号"),
        "stage": ("阶段", "商机阶段", "销售阶段"),
        "amount": ("金额", "商机金额", "预计金额"),
        "expected_close": ("预计成交日期", "预计签约日期"),
        "stage_changed_on": ("阶段变更日期",),
        "status": ("状态", "商机状态"),
    },
    "activities": {
        "id": ("编号", "记录编号", "跟进编号"),
        "customer_id": ("客户编号", "客户ID", "客户编码"),
        "rep_id": ("销售", "负责人", "跟进人", "销售编号"),
        "occurred_at": ("跟进时间", "拜访时间", "跟进日期", "时间"),
        "channel": ("跟进方式", "方式", "渠道", "拜访方式"),
        "content": ("跟进内容", "内容"),
        "feedback": ("客户反馈", "反馈"),
        "next_step": ("下一步", "下一步计划", "下步计划"),
        "contact_role": ("联系人角色", "联系人职务"),
    },
    "targets": {
        "id": ("编号", "目标编号"),
        "owner_type": ("对象类型", "类型"),
        "owner_id": ("对象编号", "负责人"),
        "metric": ("指标",),
        "period_start": ("开始日期", "起始日期"),
        "period_end": ("结束日期", "截止日期"),
        "value": ("目标值", "目标"),
    },
    "progress_notes": {
        "id": ("编号",),
        "owner_type": ("对象类型", "类型"),
        "owner_id": ("对象编号", "负责人"),
        "metric": ("指标",),
        "period": ("周期", "期间"),
        "reason": ("原因", "落后原因"),
        "plan": ("计划", "改进计划", "措施"),
    },
    "plan_tasks": {
        "id": ("编号", "任务编号"),
        "owner_id": ("负责人", "销售"),
        "title": ("标题", "任务", "任务名称"),
        "due_on": ("截止日期", "到期日期"),
    },
}

_CHANNELS: dict[str, tuple[str, ...]] = {
    "visit": ("拜访", "上门", "上门拜访", "面访", "实地拜访", "面谈"),
    "video": ("视频", "视频会议", "视频通话"),
    "call": ("电话", "电话沟通", "通话"),
    "wechat": ("微信", "企业微信", "企微"),
    "email": ("邮件", "电子邮件"),
    "message": ("短信", "消息"),
}
_OWNER_TYPES: dict[str, tuple[str, ...]] = {
    "org_unit": ("组织", "部门", "团队"),
    "rep": ("销售", "个人", "员工"),
}

# kind -> column -> canonical value -> the other words exports use for it
WORDS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "activities": {"channel": _CHANNELS},
    "deals": {
        "status": {
            "open": ("进行中", "跟进中", "未关闭"),
            "won": ("赢单", "成交", "已成交", "签约", "已签约"),
            "lost": ("输单", "丢单", "失败", "已丢单"),
        },
        # the bundled playbooks' stages (goals.forecast.stages); a stage of your own is kept
        # as written, and `values: {stage: {商机: 商机}}` keeps one of these as written too
        "stage": {
            "lead": ("线索",),
            "opportunity": ("商机",),
            "proposal": ("方案报价", "报价"),
            "contract": ("合同",),
        },
    },
    "org_units": {
        "kind": {
            "company": ("公司", "总部", "集团"),
            "region": ("大区", "区域"),
            "city": ("城市", "城市公司", "分公司"),
            "team": ("团队", "小组"),
        }
    },
    "targets": {"owner_type": _OWNER_TYPES},
    "progress_notes": {"owner_type": _OWNER_TYPES},
}
