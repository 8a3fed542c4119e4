"""Loading a rules directory, and holding the rules in force across reloads.

Every ``*.yaml`` of the directory is read (in file-name order), validated on its own, merged
section by section, and checked as a whole; any mistake anywhere refuses the whole directory
with a `RuleError` that lists them all. A running system holds its rules in a `RulesHolder`,
which keeps the last good rule set when a reload fails, and says why.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from jianyi.models.enums import UnitKind
from jianyi.models.unit_seed import load_network_file
from jianyi.rules.checks import check_sources, merge
from jianyi.rules.lookup import (
    active_profiles,
    communications_for,
    deadline_for,
    deadline_rule,
    extension_for,
    ladders_for,
    route,
    route_rule,
)
from jianyi.rules.problems import Problem, RuleError
from jianyi.rules.schema import RuleSet
from jianyi.rules.sources import Source, parse_file
from jianyi.settings import get_settings

__all__ = [
    "DEFAULT_RULES_DIR",
    "Problem",
    "RuleError",
    "RulesHolder",
    "active_profiles",
    "communications_for",
    "configured_rules_dir",
    "deadline_for",
    "deadline_rule",
    "extension_for",
    "ladders_for",
    "load_rules",
    "route",
    "route_rule",
    "seed_unit_kinds",
]

log = logging.getLogger(__name__)

DEFAULT_RULES_DIR = Path(__file__).resolve().parent / "defaults"


def configured_rules_dir() -> Path:
    """The directory in force: settings' ``rules_dir`` (JIANYI_RULES_DIR) or the packaged defaults."""
    configured = getattr(get_settings(), "rules_dir", None)
    return Path(configured) if configured else DEFAULT_RULES_DIR


def seed_unit_kinds(path: Path | None = None) -> dict[str, UnitKind]:
    """Unit code → kind from the network seed file, for checking the codes rules name."""
    return {unit.code: unit.kind for root in load_network_file(path) for unit, _parent in root.walk()}


def _files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("*.yaml") if path.is_file())


def load_rules(directory: Path | None = None, *, units: Mapping[str, UnitKind] | None = None) -> RuleSet:
    """Load and check every rule file of `directory` (default: `configured_rules_dir()`).

    `units` (code → kind), when given, also checks that routing names real units and district
    offices. Raises RuleError listing every problem found.
    """
    directory = directory or configured_rules_dir()
    if not directory.is_dir():
        raise RuleError([Problem(str(directory), None, None, "no such directory")])
    files = _files(directory)
    if not files:
        raise RuleError([Problem(str(directory), None, None, "no *.yaml rule files in this directory")])
    sources: list[Source] = []
    problems: list[Problem] = []
    for path in files:
        source, found = parse_file(path)
        problems.extend(found)
        if source is not None:
            sources.append(source)
    # With a file refused, its rules would look absent: say so only when every file was read.
    problems.extend(
        check_sources(sources, directory=f"{directory.name}/", units=units, complete=not problems)
    )
    if problems:
        raise RuleError(problems)
    return RuleSet.model_validate(merge(sources))


def fingerprint(directory: Path) -> str:
    """A digest of the directory's rule files (names and contents): changes when any of them does."""
    digest = hashlib.sha256()
    for path in _files(directory) if directory.is_dir() else []:
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


class RulesHolder:
    """The rules in force. A reload that fails keeps the last good rules and records why.

    Construction loads once and raises RuleError if that fails: a system must not start without
    rules. Thread-safe: readers take `rules` (an immutable RuleSet) without locking.
    """

    def __init__(self, directory: Path | None = None, *, units: Mapping[str, UnitKind] | None = None) -> None:
        self.directory = directory or configured_rules_dir()
        self._units = units
        self._lock = threading.Lock()
        self._fingerprint = fingerprint(self.directory)
        self._rules = load_rules(self.directory, units=units)
        self.loaded_at: datetime = datetime.now(UTC)
        self.last_error: RuleError | None = None

    @property
    def rules(self) -> RuleSet:
        return self._rules

    def reload(self) -> bool:
        """Load the directory again: True when the new rules are in force, False when the last good
        ones were kept (then `last_error` says why; it is also logged)."""
        with self._lock:
            self._fingerprint = fingerprint(self.directory)
            try:
                rules = load_rules(self.directory, units=self._units)
            except RuleError as exc:
                self.last_error = exc
                log.warning("rules in %s not reloaded, keeping the last good ones:\n%s", self.directory, exc)
                return False
            self._rules, self.loaded_at, self.last_error = rules, datetime.now(UTC), None
            return True

    def reload_if_changed(self) -> bool:
        """Reload only when a file changed since the last attempt (a broken file is tried once, not
        on every poll). True when new rules came into force."""
        if fingerprint(self.directory) == self._fingerprint:
            return False
        return self.reload()
