"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temp directory, a loopback port.

No system service: `initdb` makes a cluster in a temporary directory and `pg_ctl` starts it on a
free 127.0.0.1 port with durability off (a test database never outlives the run). PostgreSQL
refuses to run as root, so under root the cluster belongs to the `postgres` user that Debian's
package creates and the commands run through `runuser`. Each test gets its own database
(`fresh_database`), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 60  # seconds for pg_ctl to see the server accept connections
SUPERUSER = "crm_test"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here (install Debian's `postgresql`, see .ci/system-deps.sh)."""


def binaries() -> Path:
    """The directory holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable("initdb not found: install PostgreSQL (Debian: apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running server: connect as `SUPERUSER` (trust on loopback) to `port`."""

    root: Path
    port: int
    bin_dir: Path
    owner: str | None  # the user the server runs as when we are root
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        """The URL of `database` (no password: trust authentication on 127.0.0.1)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement outside any transaction (CREATE / DROP DATABASE)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)  # type: ignore[arg-type]  # built from our own names only

    @contextlib.contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty UTF-8 database for one test (its URL); dropped, connections and all, afterwards."""
        name = f"crm_{os.getpid()}_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' STRATEGY FILE_COPY")
        try:
            yield self.url(name)
        finally:
            self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        _run(
            self,
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"],
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _run(cluster: Cluster | None, argv: list[str], owner: str | None = None) -> None:
    user = cluster.owner if cluster else owner
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=START_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def start() -> Cluster:
    """initdb + pg_ctl start in a new temporary directory; the caller stops it."""
    bin_dir = binaries()
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres").pw_name
        except KeyError as exc:
            raise PostgresUnavailable(
                "running as root and there is no `postgres` user to run the server"
            ) from exc
    root = Path(tempfile.mkdtemp(prefix="crm-pg-"))
    if owner:
        info = pwd.getpwnam(owner)
        os.chown(root, info.pw_uid, info.pw_gid)
    data = root / "data"
    port = _free_port()
    cluster = Cluster(root, port, bin_dir, owner)
    _run(
        cluster,
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        " -c shared_buffers=32MB"
    )
    try:
        _run(
            cluster,
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"],
        )
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster
