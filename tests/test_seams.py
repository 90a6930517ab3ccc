"""The seams between rooms: front ends and jobs reach the stores only through `Service`."""

from __future__ import annotations

import re

from tests.conftest import ROOT

# Service owns its stores; transfer writes documents with their vectors as they were exported.
OWNERS = {"bot/service.py", "bot/ops/transfer.py"}


def test_only_the_service_touches_its_stores() -> None:
    reaching = re.compile(r"\bservice\.(store|workers)\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        if str(path.relative_to(ROOT)) not in OWNERS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if reaching.search(line)
    ]
    assert found == []
