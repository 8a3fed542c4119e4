"""Plausible suggestions at volume: districts, departments, channels and categories as the office sees them.

Deterministic for a seed, so two runs (or a run and its baseline) see the same data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CHANNELS = [  # weights: most arrive by the mailbox, the 12345 line and the app
    ("mailbox", 30),
    ("hotline_12345", 25),
    ("app", 20),
    ("leader_mailbox", 8),
    ("letter", 5),
    ("visit", 3),
    ("service_review", 4),
    ("station", 3),
    ("campaign", 2),
]
CATEGORIES = {  # category → the departments it is usually referred to
    "交通出行": ["city-transport"],
    "教育": ["city-edu"],
    "住房保障": ["city-housing"],
    "生态环境": ["city-eco", "city-water"],
    "城市管理": ["city-greening", "city-urban-management"],
    "医疗卫生": ["city-health"],
    "养老服务": ["city-civil-affairs"],
    "营商环境": ["city-commerce", "city-market"],
}
TOPICS = {
    "交通出行": ["公交线路", "非机动车停放", "地铁换乘", "学校周边交通"],
    "教育": ["课后服务", "托育资源", "校园安全"],
    "住房保障": ["老旧小区加装电梯", "保障性租赁住房", "物业管理"],
    "生态环境": ["噪声扰民", "垃圾分类", "河道治理"],
    "城市管理": ["口袋公园", "街道照明", "占道经营"],
    "医疗卫生": ["社区医院", "预约挂号", "家庭医生"],
    "养老服务": ["社区食堂", "适老化改造", "助餐点"],
    "营商环境": ["一网通办", "小微企业扶持", "夜间经济"],
}
SURNAMES = "张王李赵刘陈杨黄吴周徐孙马朱胡郭何林罗高"


@dataclass(frozen=True)
class Generated:
    data: dict[str, Any]  # a SuggestionIn payload
    category: str
    lead: str


def suggestions(count: int, *, seed: int = 7, prefix: str = "bench") -> Iterator[Generated]:
    rng = random.Random(seed)
    channels, weights = zip(*CHANNELS, strict=True)
    for n in range(count):
        category = rng.choice(list(CATEGORIES))
        topic = rng.choice(TOPICS[category])
        channel = rng.choices(channels, weights)[0]
        name = rng.choice(SURNAMES) + rng.choice("建华明丽军芳伟娟强静")
        proposer: dict[str, Any] = {"name": name, "phone": f"139{rng.randrange(10**8):08d}"}
        if rng.random() < 0.7:
            proposer["email"] = f"p{n}@example.com"
        yield Generated(
            data={
                "title": f"关于改进{topic}的建议",
                "content": f"问题：{topic}存在不便。依据：实地观察。建议：优化{topic}的管理和服务。",
                "channel": channel,
                "channel_ref": f"{prefix}-{seed}-{n}",
                "proposer": proposer,
            },
            category=category,
            lead=rng.choice(CATEGORIES[category]),
        )
