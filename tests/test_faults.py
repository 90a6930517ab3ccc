"""Broken data directories, databases, disks and index files: one clear line, never a traceback.

Each test runs the real `sectorbot` command in a subprocess, as an operator would. Read-only
and full disks are real: small tmpfs mounts (which need root, as in CI; elsewhere those tests
say why they cannot run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.commands import SECTORBOT

QUESTION = "Who captured the lithium deposit near Shevchenko?"
Mount = Callable[[Path, str], Path]


def sectorbot(data: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "HF_HUB_OFFLINE": "1",
        "SECTORBOT_DATA_DIR": str(data),
    }
    return subprocess.run([*SECTORBOT, *args], env=env, capture_output=True, text=True, timeout=300)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("sectorbot:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


def _can_mount() -> bool:
    """Whether this machine lets the tests mount a tmpfs (root, as in CI)."""
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder], capture_output=True
        )
        if probe.returncode != 0:
            return False
        subprocess.run(["umount", folder], check=False)
    return True


# In CI the mounts must work: there the tests run (and fail loudly) instead of skipping.
needs_mount = pytest.mark.skipif(
    not os.environ.get("CI") and not _can_mount(),
    reason="mounting a tmpfs needs root; CI runs these",
)


@pytest.fixture
def mount() -> Iterator[Mount]:
    """Mount a small tmpfs at a path, with mount options; unmounted afterwards."""
    mounted: list[Path] = []

    def make(path: Path, options: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert proc.returncode == 0, f"cannot mount a tmpfs: {proc.stderr.strip()}"
        mounted.append(path)
        return path

    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=False)


def sample_copy(sample_service_dir: Path, target: Path) -> Path:
    shutil.copytree(sample_service_dir, target)
    return target


def test_an_empty_data_dir_setting_is_named(tmp_path: Path) -> None:
    proc = sectorbot("", "stats")
    assert proc.returncode == 2
    assert "SECTORBOT_DATA_DIR is empty" in one_error_line(proc)


def test_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("not a folder")
    proc = sectorbot(path, "stats")
    assert proc.returncode == 1
    assert "is a file, not a folder" in one_error_line(proc)
    assert path.read_text() == "not a folder"


@needs_mount
def test_a_read_only_data_dir(tmp_path: Path, mount: Mount) -> None:
    data = mount(tmp_path / "data", "ro,size=1m")
    proc = sectorbot(data, "stats")
    assert proc.returncode == 1
    assert "read-only" in one_error_line(proc)


def test_a_corrupt_database(sample_service_dir: Path, tmp_path: Path) -> None:
    data = sample_copy(sample_service_dir, tmp_path / "data")
    garbage = b"this is not SQLite " * 2000
    (data / "sectorbot.db").write_bytes(garbage)
    for args in (["stats"], ["ask", QUESTION]):
        proc = sectorbot(data, *args)
        assert proc.returncode == 1
        line = one_error_line(proc)
        assert "not a usable sectorbot database" in line and "sectorbot doctor" in line
    assert (data / "sectorbot.db").read_bytes() == garbage  # nothing was "repaired" away


@needs_mount
def test_no_room_for_the_index_is_said_before_embedding(
    sample_service_dir: Path, tmp_path: Path, mount: Mount
) -> None:
    data = sample_copy(sample_service_dir, tmp_path / "data")
    shutil.rmtree(data / "index")
    index = mount(data / "index", "size=64k")  # the sample's vectors need about 150 kB
    proc = sectorbot(data, "ask", QUESTION)
    assert proc.returncode == 1
    assert "not enough disk space to write the index" in one_error_line(proc)
    assert list(index.iterdir()) == []  # no partial or empty file left behind


def test_a_manifest_with_a_wrong_type_is_repaired(sample_service_dir: Path, tmp_path: Path) -> None:
    data = sample_copy(sample_service_dir, tmp_path / "data")
    path = data / "index" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "file": 5}))
    proc = sectorbot(data, "ask", QUESTION)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "field 'file' should be str" in proc.stderr and "rebuilt from the store" in proc.stderr
    assert "[1]" in proc.stdout
    assert isinstance(json.loads(path.read_text())["file"], str)
