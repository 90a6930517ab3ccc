import subprocess
from pathlib import Path

import pytest

from sectorbot.bot.errors import SettingsError
from sectorbot.bot.settings import load_settings
from tests.commands import SECTORBOT

GOOD_TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


def test_defaults_and_environment() -> None:
    s = load_settings({"SECTORBOT_ADMIN_IDS": "1, 22 333", "SECTORBOT_DATA_DIR": "/x"}, None)
    assert s.admin_ids == frozenset({1, 22, 333})
    assert s.db_path == Path("/x/sectorbot.db")
    assert s.embedding_model == "multilingual-e5-small"
    assert s.telegram_bot_token is None


def test_dotenv_is_below_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SECTORBOT_FETCH_TIMEOUT=3\nSECTORBOT_LOG_FORMAT=json\n")
    s = load_settings({"SECTORBOT_FETCH_TIMEOUT": "7"}, env_file)
    assert s.fetch_timeout == 7.0
    assert s.log_format == "json"


def test_command_line_overrides_environment() -> None:
    s = load_settings({"SECTORBOT_DATA_DIR": "/a"}, None).with_overrides(data_dir=Path("/b"))
    assert s.data_dir == Path("/b")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECTORBOT_WEBHOOK_PORT": "abc"}, "SECTORBOT_WEBHOOK_PORT='abc' is not a valid int"),
        ({"SECTORBOT_EMBEDDING_BACKEND": "gpu"}, "expected one of torch, onnx, onnx-int8"),
        ({"TELEGRAM_BOT_TOKEN": "12:abc"}, "TELEGRAM_BOT_TOKEN is malformed"),
        ({"SECTORBOT_QUESTIONS_PER_MINUTE": "0"}, "must be greater than zero"),
        ({"SECTORBOT_NO_SUCH_THING": "1"}, "unknown setting SECTORBOT_NO_SUCH_THING"),
        ({"SECTORBOT_ADMIN_IDS": "12,bob"}, "SECTORBOT_ADMIN_IDS"),
        ({"SECTORBOT_FETCH_TIMEOUT": "nan"}, "SECTORBOT_FETCH_TIMEOUT=nan: must be greater"),
        ({"SECTORBOT_FETCH_TIMEOUT": "inf"}, "SECTORBOT_FETCH_TIMEOUT=inf: must be greater"),
        ({"SECTORBOT_MAX_FILE_BYTES": "99999999999999999999999"}, "must be at most 2,000,000,000"),
        ({"SECTORBOT_WEBHOOK_PORT": "70000"}, "must be at most 65,535"),
        ({"SECTORBOT_WEBHOOK_URL": "http://evil/?x=127.0.0.1"}, "must be an https:// URL"),
        ({"SECTORBOT_WEBHOOK_URL": "http://127.0.0.1.evil.example/hook"}, "must be an https://"),
        ({"SECTORBOT_WEBHOOK_URL": "https:///hook"}, "must be an https:// URL"),
    ],
)
def test_invalid_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_settings(env, None)


@pytest.mark.parametrize(
    "url", ["https://bot.example.org/hook", "http://127.0.0.1:8443/hook", "http://[::1]/hook"]
)
def test_webhook_urls_that_are_safe(url: str) -> None:
    assert load_settings({"SECTORBOT_WEBHOOK_URL": url}, None).webhook_url == url


def test_critical_is_a_log_level() -> None:
    assert load_settings({"SECTORBOT_LOG_LEVEL": "CRITICAL"}, None).log_level == "CRITICAL"


@pytest.mark.slow
def test_webhook_mode_does_not_start_without_a_secret(tmp_path: Path) -> None:
    """Forged updates are the danger: no secret, no webhook; doctor says the same."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "TELEGRAM_BOT_TOKEN": GOOD_TOKEN,
        "SECTORBOT_WEBHOOK_URL": "https://bot.example.org/hook",
        "SECTORBOT_DATA_DIR": str(tmp_path / "data"),
    }
    run = subprocess.run([*SECTORBOT, "run"], env=env, capture_output=True, text=True)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "SECTORBOT_WEBHOOK_SECRET is required" in run.stderr.splitlines()[-1]
    doctor = subprocess.run(
        [*SECTORBOT, "doctor", "--quick"], env=env, capture_output=True, text=True
    )
    assert doctor.returncode == 1
    assert any(
        line.startswith("FAIL  token") and "WEBHOOK_SECRET is required" in line
        for line in doctor.stdout.splitlines()
    ), doctor.stdout
    secret = {**env, "SECTORBOT_WEBHOOK_SECRET": "s3cret-Token_1"}
    doctor = subprocess.run(
        [*SECTORBOT, "doctor", "--quick"], env=secret, capture_output=True, text=True
    )
    assert "OK    token" in doctor.stdout and "webhook with a secret" in doctor.stdout
    assert "kept off private addresses" in doctor.stdout
    private = {**secret, "SECTORBOT_ALLOW_PRIVATE_URLS": "1"}
    doctor = subprocess.run(
        [*SECTORBOT, "doctor", "--quick"], env=private, capture_output=True, text=True
    )
    assert "may reach private addresses (SECTORBOT_ALLOW_PRIVATE_URLS)" in doctor.stdout


def test_valid_token_accepted() -> None:
    assert load_settings({"TELEGRAM_BOT_TOKEN": GOOD_TOKEN}, None).telegram_bot_token


def test_invalid_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SECTORBOT_LOG_FORMAT": "xml", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [*SECTORBOT, "stats"],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "sectorbot: invalid setting: SECTORBOT_LOG_FORMAT='xml': expected plain or json"
    ]
    assert GOOD_TOKEN not in proc.stderr
