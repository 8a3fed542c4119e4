"""Expected failures of the CLI in the user's terms: one line saying what, where and what to do, a
non-zero exit, never a traceback. Run from a shell without the system's JIANYI_HOME, a command
once printed a 485-line traceback ending in "unable to open database file"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import SUGGESTION
from typer.testing import CliRunner

from jianyi.cli.common import EXIT_DATABASE
from jianyi.cli.main import app
from jianyi.db import forget_engines
from jianyi.settings import get_settings


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A shell whose JIANYI_HOME is not the system's: its default, var/, under another directory."""
    monkeypatch.delenv("JIANYI_DATABASE_URL", raising=False)
    monkeypatch.setenv("JIANYI_HOME", str(tmp_path / "var"))
    get_settings.cache_clear()
    forget_engines()
    yield tmp_path / "var"
    get_settings.cache_clear()
    forget_engines()


def test_a_command_from_a_shell_without_the_systems_home_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANYI_")}
    env["JIANYI_TOKEN"] = "some-token"
    done = subprocess.run(
        [sys.executable, "-m", "jianyi", "steps", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_DATABASE, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot open the database {tmp_path / 'var' / 'jianyi.db'}")
    assert "JIANYI_HOME" in line and "make up" in line
    assert done.stdout == "" and not (tmp_path / "var").exists()  # nothing created by looking


COMMANDS = [
    ["steps", "list"],
    ["show", "1"],
    ["comms", "list"],
    ["rules", "explain", "1"],
    ["calendar", "show", "2026"],
    ["users", "add", "王处长", "--role", "office", "--unit", "city-office"],
    ["submit", "SUGGESTION"],
    ["supervision", "sweep"],
    ["seed"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("found", ["no-directory", "no-file", "empty-file"])
def test_every_command_tells_a_database_it_cannot_use_in_one_line(
    elsewhere: Path, tmp_path: Path, args: list[str], found: str
) -> None:
    database = elsewhere / "jianyi.db"
    if found != "no-directory":
        elsewhere.mkdir()
    if found == "empty-file":
        database.touch()
    if args == ["submit", "SUGGESTION"]:
        (tmp_path / "s.json").write_text(json.dumps(SUGGESTION), encoding="utf-8")
        args = ["submit", str(tmp_path / "s.json")]
    result = CliRunner().invoke(app, args, env={"JIANYI_TOKEN": "some-token"})
    assert isinstance(result.exception, SystemExit) and result.exit_code == EXIT_DATABASE, result.output
    [line] = result.stderr.strip().splitlines()
    if found == "empty-file":  # an empty database: the schema is missing
        assert line.startswith(f"error: the database {database} has no jianyi schema")
        assert "jianyi migrate" in line
    else:
        assert line.startswith(f"error: cannot open the database {database} (no such file)")
        assert not database.exists()
    assert "JIANYI_HOME" in line


def test_an_unreachable_postgresql_is_one_line_without_its_password(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIANYI_DATABASE_URL", "postgresql+psycopg://jianyi:s3cret@127.0.0.1:1/jianyi")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["steps", "list"], env={"JIANYI_TOKEN": "some-token"})
    assert isinstance(result.exception, SystemExit) and result.exit_code == EXIT_DATABASE, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "error: cannot open the database postgresql+psycopg://jianyi:***@127.0.0.1:1/jianyi"
    )
    assert "s3cret" not in result.output and "JIANYI_HOME" in line
