"""What the running system writes keeps its secrets (issue 14, item 7): the API's access log masks
check codes, and the database, the logs and the data directory are their owner's alone."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jianyi.cli.main import app
from jianyi.runtime.system import System


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_access_log_masks_check_codes_and_is_private(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = Path(db_url.removeprefix("sqlite:///"))
    database.chmod(0o644)  # as a data directory from before left it
    system = System(home, database_url=db_url, prefect_api_url="http://127.0.0.1:9/api")
    home.mkdir(mode=0o755)
    system.secure_home()
    try:
        system.start_api()
        answer = httpx.get(f"{system.api_url}/api/track/JY2612ABCDEFGH", params={"check": "SECRET4242XY"})
        assert answer.status_code == 404
        rating = httpx.post(
            f"{system.api_url}/track/JY2612ABCDEFGH/rating?token=T0KEN42&check=SECRET4343XY",
            data={"check": "x", "rating": "satisfied"},
        )
        assert rating.status_code == 404
    finally:
        assert system.api is not None
        system.api.terminate()
        system.api.wait(20)
    log = (home / "api.log").read_text()
    assert "/api/track/JY2612ABCDEFGH?check=***" in log
    assert "SECRET" not in log and "T0KEN42" not in log
    assert _mode(home / "api.log") == 0o600
    assert _mode(home) == 0o700
    assert _mode(database) == 0o600


def test_a_database_the_cli_creates_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jianyi.db import forget_engines
    from jianyi.settings import get_settings

    database = tmp_path / "new" / "jianyi.db"
    database.parent.mkdir()
    monkeypatch.setenv("JIANYI_DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    try:
        migrated = CliRunner().invoke(app, ["migrate"])
    finally:
        get_settings.cache_clear()
        forget_engines()
    assert migrated.exit_code == 0, migrated.output
    assert _mode(database) == 0o600
