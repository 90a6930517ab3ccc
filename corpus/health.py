"""What a health check says: one named finding, OK, WARN or FAIL, in one line.

Each feature answers `health()` with a list of these about the state it owns; `doctor` only
orders and prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from sectorbot.corpus.text import one_line

Status = Literal["OK", "WARN", "FAIL"]
STATUS_ORDER: dict[Status, int] = {"OK": 0, "WARN": 1, "FAIL": 2}


@dataclass
class Check:
    """One finding: what was checked, how it stands, and one line on why."""

    name: str
    status: Status
    detail: str


def worst(checks: Iterable[Check]) -> Status:
    return max((c.status for c in checks), key=STATUS_ORDER.__getitem__, default="OK")


def guarded(name: str, check: Callable[[], tuple[Status, str]]) -> Check:
    """Run one check; a check that crashes is itself a finding, so a report comes out whole."""
    try:
        status, detail = check()
    except Exception as exc:
        status, detail = "FAIL", f"check crashed: {type(exc).__name__}: {one_line(str(exc))}"
    return Check(name, status, detail)


def guarded_all(names: Iterable[str], checks: Callable[[], list[Check]]) -> list[Check]:
    """Run a feature's `health`; when it crashes, each check it would have made fails."""
    try:
        return checks()
    except Exception as exc:
        detail = f"check crashed: {type(exc).__name__}: {one_line(str(exc))}"
        return [Check(name, "FAIL", detail) for name in names]
