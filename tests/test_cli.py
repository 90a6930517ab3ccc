import subprocess
from pathlib import Path

import click

from sectorbot.bot.cli.main import cli
from tests.commands import SECTORBOT
from tests.conftest import ROOT


def all_commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            names.extend(all_commands(command, f"{prefix}{name} "))
    return names


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in all_commands(cli) if f"sectorbot {name}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [*SECTORBOT, "--help"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0
    for name in ("ingest", "reindex", "ask", "search", "chat", "eval", "run", "doctor"):
        assert f"  {name}" in out.stdout


def test_terminal_chat_answers_and_leaves_on_eof(sample_service_dir: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "d"
    shutil.copytree(sample_service_dir, data)
    proc = subprocess.run(
        [*SECTORBOT, "--data-dir", str(data),
         "chat"],
        input="Who captured the lithium deposit near Shevchenko?\n/latest\nsince:soon x\n",
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Sources:" in proc.stdout and "[1]" in proc.stdout
    assert "https://tass.com/" in proc.stdout
    assert "Sorry: since:soon is not a date" in proc.stdout


def test_undecodable_bytes_in_a_question_are_no_crash(
    sample_service_dir: Path, tmp_path: Path
) -> None:
    """A stray byte in an argument or a terminal line: an answer, not a traceback."""
    import json
    import shutil

    data = tmp_path / "d"
    shutil.copytree(sample_service_dir, data)
    # subprocess writes the lone surrogate back as the raw byte 0xff.
    ask = subprocess.run(
        [*SECTORBOT, "--data-dir", str(data), "ask", "--json", "Pokrovsk \udcff"],
        capture_output=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert ask.returncode == 0, ask.stderr.decode(errors="replace")[-2000:]
    assert "answered" in json.loads(ask.stdout)
    chat = subprocess.run(
        [*SECTORBOT, "--data-dir", str(data), "chat"],
        input=b"Pokrovsk \xff\n/latest\n",
        capture_output=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert chat.returncode == 0, chat.stderr.decode(errors="replace")[-2000:]
    assert b"Traceback" not in chat.stderr
    latest = subprocess.run(
        [*SECTORBOT, "--data-dir", str(data), "chat"],
        input=b"/latest\n", capture_output=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    newest = [line for line in latest.stdout.splitlines() if line[:2] == b"20"]
    assert newest and all(line in chat.stdout.splitlines() for line in newest)


def test_every_package_folder_is_installed() -> None:
    # `pip install .` ships only the packages pyproject lists; an editable install finds
    # every folder, so a missing entry would only show up in the Docker image.
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {f"sectorbot.{name}": ROOT / name for name in ("bot", "corpus", "index")}
    found = {
        ".".join([package, *init.parent.relative_to(folder).parts])
        for package, folder in folders.items()
        for init in folder.rglob("__init__.py")
    }
    assert found == set(config["packages"])
