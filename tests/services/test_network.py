"""The unit network seed: the shipped file, its validation, the idempotent upsert, the tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jianyi.db import make_engine
from jianyi.models import Base, Unit
from jianyi.models.enums import UnitKind
from jianyi.models.unit_seed import NetworkFileError, UnitSeed, load_network_file
from jianyi.services.network import UnknownUnit, get_unit_by_code, seed_network, unit_tree

DISTRICTS = {
    "huangpu": "黄浦区",
    "xuhui": "徐汇区",
    "changning": "长宁区",
    "jingan": "静安区",
    "putuo": "普陀区",
    "hongkou": "虹口区",
    "yangpu": "杨浦区",
    "minhang": "闵行区",
    "baoshan": "宝山区",
    "jiading": "嘉定区",
    "pudong": "浦东新区",
    "jinshan": "金山区",
    "songjiang": "松江区",
    "qingpu": "青浦区",
    "fengxian": "奉贤区",
    "chongming": "崇明区",
}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'units.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _all(roots: list[UnitSeed]) -> list[UnitSeed]:
    return [unit for root in roots for unit, _parent in root.walk()]


def test_the_shipped_network_is_shanghais() -> None:
    [root] = load_network_file()
    assert (root.code, root.kind) == ("city-office", UnitKind.city_office)
    assert root.name == "上海市人民建议征集办公室"

    districts = {c.code: c for c in root.children if c.kind is UnitKind.district_office}
    assert set(districts) == {f"{pinyin}-office" for pinyin in DISTRICTS}
    for pinyin, name in DISTRICTS.items():
        office = districts[f"{pinyin}-office"]
        assert office.name == f"{name}人民建议征集办公室"
        subdistricts = [c for c in office.children if c.kind is UnitKind.subdistrict]
        assert len(subdistricts) >= 3, office.code
        assert all(c.code.startswith(f"{pinyin}-") for c in subdistricts)
        assert all(c.name.endswith(("街道", "镇", "乡")) for c in subdistricts)

    departments = {c.code: c.name for c in root.children if c.kind is UnitKind.city_department}
    assert len(departments) >= 24
    assert departments["city-drc"] == "上海市发展和改革委员会"
    assert departments["city-housing-construction"] == "上海市住房和城乡建设管理委员会"
    assert departments["city-data"] == "上海市数据局"
    assert all(name.startswith("上海市") for name in departments.values())

    units = _all([root])
    contact_points = [u for u in units if u.kind is UnitKind.contact_point]
    assert len(contact_points) >= 2
    codes = [u.code for u in units]
    assert len(codes) == len(set(codes))


def _office(*children: str) -> str:
    """A seed file: the city office with these children (YAML flow mappings)."""
    return f"- {{code: city-office, name: 市办, kind: city_office, children: [{', '.join(children)}]}}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _office("{code: x-office, name: 区办, kind: bureau}"),
            r"unit 'city-office' > unit 'x-office' > kind",
        ),
        ("- {code: city-office, kind: city_office}", r"unit 'city-office' > name: Field required"),
        ("- {code: Bad Code, name: x, kind: city_office}", r"unit 'Bad Code' > code"),
        (
            _office(
                "{code: dept-a, name: A, kind: city_department}",
                "{code: dept-a, name: B, kind: city_department}",
            ),
            r"unit 'dept-a': code used twice",
        ),
        (_office("{code: town, name: 镇, kind: subdistrict}"), r"unit 'town': a subdistrict cannot be under"),
        (
            "- {code: town, name: 镇, kind: subdistrict}",
            r"unit 'town': a top-level unit must be a city_office",
        ),
        ("units: []", r"top level: expected a list"),
        ("- {code: [unclosed", r"cannot read"),
    ],
)
def test_a_bad_file_names_the_file_and_the_unit(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad-units.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NetworkFileError, match=expected) as info:
        load_network_file(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError, match=r"nowhere\.yaml: cannot read"):
        load_network_file(tmp_path / "nowhere.yaml")


def test_seeding_is_idempotent_and_upserts_by_code(session: Session, tmp_path: Path) -> None:
    total = len(_all(load_network_file()))
    assert seed_network(session) == total
    session.commit()
    assert seed_network(session) == 0
    assert not session.dirty and not session.new  # nothing changed on the second run
    session.commit()
    assert session.scalar(select(func.count()).select_from(Unit)) == total

    # A renamed and a new unit: the rename is updated in place, only the new one is created.
    renamed = tmp_path / "units.yaml"
    renamed.write_text(
        "- code: city-office\n"
        "  name: 上海市人民建议征集办公室（新）\n"
        "  kind: city_office\n"
        "  children:\n"
        "    - {code: city-new-dept, name: 上海市新设局, kind: city_department}\n",
        encoding="utf-8",
    )
    office_id = get_unit_by_code(session, code="city-office").id
    assert seed_network(session, path=renamed) == 1
    office = get_unit_by_code(session, code="city-office")
    assert (office.id, office.name) == (office_id, "上海市人民建议征集办公室（新）")
    assert get_unit_by_code(session, code="city-new-dept").parent_id == office_id
    # Units missing from the new file are left alone.
    assert get_unit_by_code(session, code="huangpu-office").active


def test_unit_tree_mirrors_the_seed(session: Session) -> None:
    seed_network(session)
    huangpu = get_unit_by_code(session, code="huangpu-office")
    huangpu.active = False  # hidden, and its sub-districts come up to the top rather than vanish
    session.flush()

    [root, *orphans] = unit_tree(session)
    assert root.code == "city-office"
    assert "huangpu-office" not in {c.code for c in root.children}
    assert [n.code for n in orphans] == [
        "huangpu-nanjingdonglu",
        "huangpu-waitan",
        "huangpu-yuyuan",
        "huangpu-huaihaizhonglu",
        "huangpu-dapuqiao",
    ]

    [full] = unit_tree(session, include_inactive=True)
    [seed] = load_network_file()
    assert [c.code for c in full.children] == [c.code for c in seed.children]  # seed order kept
    pudong = next(d for d in full.children if d.code == "pudong-office")
    lujiazui = next(s for s in pudong.children if s.code == "pudong-lujiazui")
    assert [c.kind for c in lujiazui.children] == [UnitKind.contact_point]
    assert full.model_dump()["children"][0]["children"][0]["id"] > 0


def test_get_unit_by_code_raises_a_lookup_error(session: Session) -> None:
    with pytest.raises(LookupError) as info:
        get_unit_by_code(session, code="no-such-unit")
    assert isinstance(info.value, UnknownUnit)
    assert info.value.code == "no-such-unit"
