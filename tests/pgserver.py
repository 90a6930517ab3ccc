"""A throwaway PostgreSQL cluster for the tests, on 127.0.0.1, owned by an unprivileged user.

`.ci/run` installs Debian's postgresql package when it is missing; here we only find its
binaries, make a cluster under a temporary folder and start it. The server refuses to run as
root, so as root the cluster belongs to the `postgres` user (or `nobody`) and every command
runs as that user. Each test gets its own schema, which is much faster than a database each.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None where PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(versions[0]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """initdb + pg_ctl start on a free loopback port; `stop()` removes it all."""

    def __init__(self, bin_dir: Path, durable: bool = False) -> None:
        """`durable` keeps fsync and full-page writes on (benchmarks); tests turn them off."""
        self.bin_dir = bin_dir
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="sectorbot-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = _unprivileged_user()
            os.chown(self.root, *self.user)
            os.chmod(self.root, 0o700)

    def _run(self, *args: str) -> None:
        kwargs: dict = {"check": True, "capture_output": True, "text": True, "cwd": self.root}
        if self.user:
            kwargs.update(user=self.user[0], group=self.user[1], extra_groups=[])
        subprocess.run([str(self.bin_dir / args[0]), *args[1:]], **kwargs)

    def start(self) -> str:
        sync = [] if self.durable else ["--no-sync"]
        self._run("initdb", "-D", str(self.data), "-U", "sectorbot", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", *sync)  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
            "-c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
        return f"postgresql://sectorbot@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _unprivileged_user() -> tuple[int, int]:
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("no unprivileged user to run PostgreSQL as")


def fresh_schema(base_url: str, **settings: str) -> str:
    """A new empty schema in the cluster; the URL whose connections use it by default, with
    these server settings for each session (e.g. synchronous_commit="on")."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    options = " ".join([f"-csearch_path={name}", *(f"-c{k}={v}" for k, v in settings.items())])
    return f"{base_url}?options={quote(options)}"
