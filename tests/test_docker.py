"""The container files agree with the code: lint, paths, settings names, commands, volume.

There is no Docker engine in CI, so these tests read the files the way Docker and Compose
would and check every name they use against the repository and the program.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
import yaml

from sectorbot.bot.cli.main import cli
from sectorbot.bot.settings import Settings
from tests.conftest import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
PROXY_DOCKERFILE = ROOT / "docker" / "proxy" / "Dockerfile"
PROXY_CONFIG = ROOT / "docker" / "proxy" / "haproxy.cfg"
SCALE = ("postgres", "web", "worker", "proxy")  # the services of the profile `scale`
DOCKERIGNORE = ROOT / ".dockerignore"
SETTING_NAME = re.compile(r"\bSECTORBOT_[A-Z0-9_]+")


# --- reading the files ----------------------------------------------------------------------


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, comments dropped and continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def env_values(steps: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, args in steps:
        if keyword == "ENV":
            values.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return values


def exec_form(args: str) -> list[str]:
    """The JSON array of a CMD (after HEALTHCHECK's options, if any)."""
    start = args.index("[")
    value = json.loads(args[start:])
    assert isinstance(value, list), args
    return value


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def bot_service() -> dict:
    return compose()["services"]["bot"]


def sectorbot_services() -> dict[str, dict]:
    """The services that run the sectorbot image: the one-process bot and the scale ones."""
    return {name: s for name, s in compose()["services"].items()
            if s.get("image") == bot_service()["image"]}  # fmt: skip


def proxy_config() -> list[str]:
    """haproxy.cfg's lines, comments and blank lines dropped, indentation stripped."""
    lines = (line.split("#", 1)[0].strip() for line in PROXY_CONFIG.read_text().splitlines())
    return [line for line in lines if line]


def setting_names() -> set[str]:
    """Every environment name bot/settings.py reads, derived from the Settings dataclass."""
    fields = dataclasses.fields(Settings)
    return {"TELEGRAM_BOT_TOKEN"} | {
        f"SECTORBOT_{f.name.upper()}" for f in fields if f.name != "telegram_bot_token"
    }


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def check_command(argv: list[str]) -> None:
    """argv must be `sectorbot <command> [options]` that the real click group accepts."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert argv[0] in scripts and scripts[argv[0]] == "sectorbot.bot.cli.main:main", argv
    assert argv[1] in cli.commands, f"{argv[1]!r} is not a sectorbot command"
    command = cli.commands[argv[1]]
    # Parsing (not invoking) rejects unknown options and bad arguments.
    command.make_context(argv[1], list(argv[2:]), parent=click.Context(cli, obj={}))


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, PROXY_DOCKERFILE], ids=["bot", "proxy"])
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint is missing: it comes with the dev extra"
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_compose_builds_this_dockerfile_from_the_repo_root() -> None:
    services = sectorbot_services()
    assert set(services) == {"bot", "web", "worker"}
    for name, service in services.items():
        build = service["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE, name


def test_the_image_can_reach_postgresql() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "postgres" in extras["optional-dependencies"]
    runs = [args for keyword, args in instructions() if keyword == "RUN"]
    assert any('pip install --no-cache-dir "/src[postgres]"' in args for args in runs)


def test_every_setting_name_used_is_a_real_setting() -> None:
    known = setting_names()
    for path in (DOCKERFILE, COMPOSE):
        used = set(SETTING_NAME.findall(path.read_text()))
        assert used, f"{path.name} names no setting at all"
        assert used <= known, f"{path.name}: not settings: {sorted(used - known)}"
    for service in compose()["services"].values():
        assert {n for n in service.get("environment", {}) if n.startswith("SECTORBOT_")} <= known


def test_commands_are_real_sectorbot_commands() -> None:
    runtime = final_stage()
    cmd = [exec_form(args) for keyword, args in runtime if keyword == "CMD"]
    health = [exec_form(args) for keyword, args in runtime if keyword == "HEALTHCHECK"]
    assert cmd == [["sectorbot", "run", "--telegram"]]  # no terminal in a container
    assert len(health) == 1 and "--quick" in health[0]
    commands = [*cmd, *health, bot_service()["command"], compose()["services"]["web"]["command"]]
    for argv in commands:
        check_command(argv)


def test_the_job_worker_runs_a_real_command() -> None:
    worker = compose()["services"]["worker"]
    assert worker["command"] == ["sectorbot", "worker"]
    check_command(worker["command"])


def test_check_command_rejects_what_click_would() -> None:
    with pytest.raises(AssertionError):
        check_command(["sectorbot", "serve"])
    with pytest.raises(click.UsageError):
        check_command(["sectorbot", "doctor", "--quik"])


def test_the_volume_is_the_data_dir() -> None:
    runtime = final_stage()
    data_dir = env_values(runtime)["SECTORBOT_DATA_DIR"]
    volumes = [exec_form(args) for keyword, args in runtime if keyword == "VOLUME"]
    assert volumes == [[data_dir]]
    service = bot_service()
    targets = [v.split(":")[1] for v in service["volumes"]]
    assert data_dir in targets
    named = next(v.split(":")[0] for v in service["volumes"] if v.split(":")[1] == data_dir)
    assert named in compose()["volumes"], "the data volume should be a named volume"
    assert service["environment"].get("SECTORBOT_DATA_DIR", data_dir) == data_dir


def test_runtime_stage_starts_offline_as_a_user() -> None:
    runtime = final_stage()
    env = env_values(runtime)
    assert env["HF_HUB_OFFLINE"] == "1"
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert bot_service()["restart"] == "unless-stopped"
    assert bot_service()["env_file"] == ".env"


def test_torch_is_the_cpu_build_the_makefile_pins() -> None:
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^TORCH_SPEC \?= (\S+)$", makefile, re.M)
    assert pinned
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    assert f"pip install --no-cache-dir {pinned.group(1)} " in runs
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs


def test_copy_sources_exist_and_reach_the_build() -> None:
    sources = []
    for keyword, args in instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        if any(w.startswith("--from") for w in args.split()):
            continue  # copies from another stage, not from the repository
        sources += words[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
        assert not dockerignored(source.rstrip("/")), f"COPY {source}: .dockerignore drops it"


def test_dockerignore_keeps_secrets_and_bulk_out() -> None:
    kept_out = [".venv/bin/python", "data/sectorbot.db", ".git/HEAD", ".env", "docker/.env",
                "tests/test_ops.py", "bot/__pycache__/cli.pyc", "bench/x.py"]  # fmt: skip
    for path in kept_out:
        assert dockerignored(path), path
    for path in ("bot/cli/main.py", "corpus/sample/x.md", "index/places.json", "pyproject.toml"):
        assert not dockerignored(path), path


# --- the profile `scale`: PostgreSQL, webhook workers, one job worker, the proxy -------------


def test_the_one_process_bot_stays_the_default() -> None:
    services = compose()["services"]
    assert "profiles" not in services["bot"], "`docker compose up` must still start the bot"
    for name in SCALE:
        assert services[name].get("profiles") == ["scale"], name


def test_secrets_come_from_env_files_only() -> None:
    services = compose()["services"]
    for name in ("web", "worker"):
        assert services[name]["env_file"] == ".env", name
        # The URL holds the database password: it comes from docker/.env, never this file.
        assert "SECTORBOT_DATABASE_URL" not in services[name].get("environment", {}), name
        assert "TELEGRAM_BOT_TOKEN" not in services[name].get("environment", {}), name
    postgres = services["postgres"]
    assert [e["path"] for e in postgres["env_file"]] == ["postgres.env"]
    assert not {"POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE"} & set(postgres["environment"])
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            assert not re.search(r"PASSWORD|TOKEN|SECRET", key), f"{name}: {key} inline"
            assert not re.search(r"://[^/\s]*@", str(value)), f"{name}: credentials in {key}"
    ignored = (COMPOSE.parent / ".gitignore").read_text().split()
    assert "postgres.env" in ignored
    assert dockerignored("docker/postgres.env") and dockerignored("docker/tls/bot.pem")


def test_postgres_keeps_its_data_and_reports_its_health() -> None:
    postgres = compose()["services"]["postgres"]
    image, _, tag = postgres["image"].partition(":")
    assert image == "postgres" and "bookworm" in tag, "the official Debian-based image"
    assert "--encoding=UTF8" in postgres["environment"]["POSTGRES_INITDB_ARGS"]
    named, target = postgres["volumes"][0].split(":")
    assert target == "/var/lib/postgresql/data" and named in compose()["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["restart"] == "unless-stopped"


def test_workers_wait_for_a_healthy_database_and_keep_the_image_healthcheck() -> None:
    services = compose()["services"]
    for name in ("web", "worker"):
        service = services[name]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert "healthcheck" not in service, f"{name}: the image's HEALTHCHECK applies"
        assert service["restart"] == "unless-stopped", name
        assert service["environment"]["SECTORBOT_DATA_DIR"] == "/data", name
    health = [args for keyword, args in final_stage() if keyword == "HEALTHCHECK"]
    assert health and "NONE" not in health[0].upper()


def test_only_the_proxy_is_published() -> None:
    services = compose()["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}
    (mapping,) = services["proxy"]["ports"]
    host, container = mapping.split(":")
    assert host in ("443", "80", "88", "8443"), "Telegram sends webhooks to these ports only"
    bind = next(line for line in proxy_config() if line.startswith("bind :"))
    assert bind.split()[1] == f":{container}"
    health = [args for keyword, args in instructions(PROXY_DOCKERFILE) if keyword == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in exec_form(health[0])[-1]
    assert any(line.startswith("monitor-uri /healthz") for line in proxy_config())


def test_web_workers_are_identical_replicas_behind_the_proxy() -> None:
    web = compose()["services"]["web"]
    replicas = web["deploy"]["replicas"]
    assert replicas >= 2
    env = web["environment"]
    assert env["SECTORBOT_WEBHOOK_LISTEN"] == "0.0.0.0", "reachable inside the network"
    port = int(env["SECTORBOT_WEBHOOK_PORT"])
    assert [int(p) for p in web["expose"]] == [port]
    # The proxy resolves the service name to every replica, with a slot for each.
    (template,) = [line.split() for line in proxy_config() if line.startswith("server-template")]
    _, _, slots, address = template
    assert address == f"web:{port}"
    assert int(slots) >= replicas
    assert compose()["services"]["worker"].get("deploy", {}).get("replicas", 1) == 1


def test_the_proxy_balances_checks_and_passes_the_secret_header() -> None:
    lines = proxy_config()
    assert "balance roundrobin" in lines
    defaults = next(line for line in lines if line.startswith("default-server"))
    assert " check" in f" {defaults}" and "observe layer7" in defaults, "active and passive"
    assert "resolvers docker" in defaults
    timeouts = {line.split()[1] for line in lines if line.startswith("timeout ")}
    assert {"connect", "client", "server", "http-request"} <= timeouts
    assert any("content-length" in line and "413" in line for line in lines), "body size"
    header = "x-telegram-bot-api-secret-token"
    assert any(header in line.lower() and "deny" in line for line in lines)
    assert not any(header in line.lower() and "del-header" in line for line in lines)
    proxy = compose()["services"]["proxy"]
    assert proxy["depends_on"]["web"]["condition"] == "service_started"


def test_the_proxy_image_builds_from_its_own_folder() -> None:
    proxy = compose()["services"]["proxy"]
    context = (COMPOSE.parent / proxy["build"]["context"]).resolve()
    assert context == PROXY_DOCKERFILE.parent
    steps = instructions(PROXY_DOCKERFILE)
    assert steps[0] == ("FROM", "debian:bookworm-slim")
    for keyword, args in steps:
        if keyword == "COPY":
            assert (context / args.split()[0]).exists(), args
    copied = [args.split()[-1] for keyword, args in steps if keyword == "COPY"]
    assert "/etc/haproxy/haproxy.cfg" in copied
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    mounts = [v.split(":") for v in proxy["volumes"]]
    cert = next(line for line in proxy_config() if line.startswith("bind :")).split()[-1]
    assert any(cert.startswith(target + "/") and (COMPOSE.parent / src).is_dir()
               for src, target, *_ in mounts)  # fmt: skip
