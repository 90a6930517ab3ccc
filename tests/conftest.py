"""Shared fixtures: every test gets its own data directory; the real model loads once.

Tests that need the real embedding model carry the `model` marker (set here for every test
that uses a fixture built with the model, or by the test itself); tests of several seconds
(processes killed and restarted, races) carry `slow`. `make test-fast` sets
`SECTORBOT_TESTS=fast`, which leaves both out and makes any other test that would load the
model fail at once, so a missing marker is found rather than slowing the fast lane down.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist each worker gets its share of the cores for the model's threads: more
# threads than cores would only make the workers take turns.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _share = (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _share)))

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus" / "sample"
FAST = os.environ.get("SECTORBOT_TESTS") == "fast"
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
# Fixtures that build an index with the real model: a test that uses one needs the model.
MODEL_FIXTURES = {"sample_service", "sample_service_dir", "small_data", "embedder", "ukru_service"}
# A model path that cannot load: processes a fast-lane test starts fail instead of loading.
NO_MODEL = "/nonexistent/fast-lane-has-no-embedding-model"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "model: needs the real embedding model (not in test-fast)")
    if FAST:  # for the whole session, so a module or session fixture cannot load it either
        from sectorbot.index.embedding import Embedder

        Embedder._load = _no_model  # type: ignore[method-assign]


def _heavy(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("model", "slow"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that use a model fixture; the fast lane leaves out `model` and `slow`."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)
    if not FAST:
        return
    kept = [item for item in items if not _heavy(item)]
    dropped = [item for item in items if _heavy(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def free_port() -> int:
    """A loopback port nothing listens on (the OS gave it out and took it back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data directory at a temporary folder; drop settings and proxies from the outer
    shell."""
    for key in list(os.environ):
        if key.startswith("SECTORBOT_") or key == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(key)
        # Every test talks to 127.0.0.1 directly; a proxy of the outer shell would intercept.
        if key.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(key)
    data = tmp_path / "data"
    monkeypatch.setenv("SECTORBOT_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    if FAST:
        monkeypatch.setenv("SECTORBOT_EMBEDDING_MODEL", NO_MODEL)
    return data


def _no_model(self: object) -> None:
    pytest.fail("this test loads the embedding model: mark it `model` (pytest.mark.model)")


@pytest.fixture
def hash_embedder(monkeypatch: pytest.MonkeyPatch):
    """Every embedder this process asks for is one `HashEmbedder` (vectors without meaning)."""
    from tests.fakes import HashEmbedder

    fake = HashEmbedder()
    monkeypatch.setattr("sectorbot.index.embedding.get_embedder", lambda *a, **k: fake)
    monkeypatch.setattr("sectorbot.bot.service.get_embedder", lambda *a, **k: fake)
    return fake


@pytest.fixture
def settings(isolated_env: Path):
    from sectorbot.bot.settings import load_settings

    return load_settings(dotenv=None)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session; its base URL.

    Skips where PostgreSQL is not installed, except in CI, where `.ci/run` installs it and a
    missing or broken server fails the tests instead of hiding them.
    """
    from tests.pgserver import Cluster, binaries

    bin_dir = binaries()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run installs it in CI")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = Cluster(bin_dir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    """A URL for an empty database of this test's own (a fresh schema in the cluster)."""
    from tests.pgserver import fresh_schema

    return fresh_schema(postgres_cluster)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request: pytest.FixtureRequest, isolated_env: Path) -> str:
    """Each backend in turn: a SQLite file path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(isolated_env / "sectorbot.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_target: str) -> Iterator:
    from sectorbot.corpus.store import Store

    s = Store(database_target)
    yield s
    s.close()


@pytest.fixture(scope="session")
def sample_service_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the sample corpus and its index, built once per session."""
    from sectorbot.bot.service import Service
    from sectorbot.bot.settings import Settings

    data = tmp_path_factory.mktemp("sample-data")
    service = Service(Settings(data_dir=data))
    report = service.ingest([str(SAMPLE)])
    assert report.ok, report.failed
    service.reindex()
    service.close()
    return data


@pytest.fixture
def sample_service(sample_service_dir: Path, tmp_path: Path) -> Iterator:
    """A Service over a private copy of the sample data (tests may change it freely)."""
    import shutil

    from sectorbot.bot.service import Service
    from sectorbot.bot.settings import Settings

    data = tmp_path / "sample-copy"
    shutil.copytree(sample_service_dir, data)
    service = Service(Settings(data_dir=data))
    service.ensure_index()
    yield service
    service.close()
