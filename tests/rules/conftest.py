"""The rules tests' fixture: a writable copy of the packaged default rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jianyi.rules.loader import DEFAULT_RULES_DIR


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the packaged defaults that a test may break."""
    return Path(shutil.copytree(DEFAULT_RULES_DIR, tmp_path / "rules"))
