"""A throw-away PostgreSQL server for the test suite (Debian's ``postgresql`` binaries).

``PostgresServer.start()`` runs ``initdb`` into a temporary directory (as the ``postgres``
user when the suite runs as root: initdb refuses root), then ``pg_ctl start`` listening on
127.0.0.1 at a free port, and creates a password-authenticated role and a database owned
by it. The superuser connects only through the cluster's private Unix socket (trust); TCP
connections need the role's password (scram-sha-256), like a real deployment.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["PG_PASSWORD", "PostgresServer", "PostgresUnavailable"]

#: The test role's password: every character that needs quoting somewhere (URL, libpq).
PG_PASSWORD = "s3cr:t/p@ss w%rd?#'"
PG_USER = "nbr_user"
PG_DATABASE = "nbr_test"


class PostgresUnavailable(RuntimeError):
    """The throw-away server could not be set up; the message says why."""


def _bin_dir() -> str:
    """Return the directory of initdb/pg_ctl; PostgresUnavailable if not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    which = shutil.which("initdb")
    if which:
        return os.path.dirname(os.path.realpath(which))
    raise PostgresUnavailable(
        "PostgreSQL is not installed (no initdb); run .ci/setup as root, or "
        "apt-get install postgresql"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One throw-away cluster: its directory, port and the test role's credentials."""

    root: str = ""
    port: int = 0
    host: str = "127.0.0.1"
    user: str = PG_USER
    password: str = PG_PASSWORD
    database: str = PG_DATABASE
    # argv prefix that runs a server binary as the cluster's owner ([] when not root).
    _as_owner: list[str] = field(default_factory=list)
    _bin: str = ""

    @property
    def data_dir(self) -> str:
        return os.path.join(self.root, "data")

    @property
    def socket_dir(self) -> str:
        return os.path.join(self.root, "sock")

    @property
    def url(self) -> str:
        """Return the role's URL (password URL-encoded)."""
        return (
            f"postgresql://{self.user}:{quote(self.password, safe='')}@{self.host}:"
            f"{self.port}/{self.database}"
        )

    def settings(self, **extra: object) -> dict[str, object]:
        """Return DataSource("postgresql", ...) settings for the test role."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            **extra,
        }

    # --- lifecycle ------------------------------------------------------------------

    def _run(self, argv: list[str], timeout: float = 120) -> str:
        proc = subprocess.run(
            [*self._as_owner, *argv], capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"{os.path.basename(argv[0])} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )
        return proc.stdout

    def setup(self) -> PostgresServer:
        """Create and start the cluster, the role and the database; PostgresUnavailable."""
        self._bin = _bin_dir()
        self.root = tempfile.mkdtemp(prefix="nbr-pg-")
        os.makedirs(self.socket_dir)
        if os.geteuid() == 0:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root but there is no 'postgres' user to own the cluster"
                ) from None
            for path in (self.root, self.socket_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self._run(
            [
                os.path.join(self._bin, "initdb"),
                "-D",
                self.data_dir,
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ]
        )
        self.port = _free_port()
        self.start()
        quoted = self.password.replace("'", "''")
        self.superuser_sql(
            f"CREATE ROLE {self.user} LOGIN PASSWORD '{quoted}'",
            f"CREATE DATABASE {self.database} OWNER {self.user}",
        )
        return self

    def start(self) -> None:
        """Start (or restart) the server on its port; PostgresUnavailable if it fails."""
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
            "-c max_connections=60"
        )
        self._run(
            [
                os.path.join(self._bin, "pg_ctl"),
                "-D",
                self.data_dir,
                "-o",
                opts,
                "-l",
                os.path.join(self.root, "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast, immediate); a no-op if not running."""
        if not self.root:
            return
        subprocess.run(
            [
                *self._as_owner,
                os.path.join(self._bin, "pg_ctl"),
                "-D",
                self.data_dir,
                "-m",
                mode,
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )

    def destroy(self) -> None:
        """Stop the server and remove its directory."""
        self.stop("immediate")
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def superuser_sql(self, *statements: str) -> list[list[tuple[object, ...]]]:
        """Run statements as the superuser through the private socket; return their rows."""
        import psycopg

        out: list[list[tuple[object, ...]]] = []
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(
                    host=self.socket_dir,
                    port=self.port,
                    user="postgres",
                    dbname=self.database if statements and _in_db(statements) else "postgres",
                    autocommit=True,
                )
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            for stmt in statements:
                cur = conn.execute(stmt.removeprefix("@db "))
                out.append(list(cur.fetchall()) if cur.description else [])
        return out


def _in_db(statements: tuple[str, ...]) -> bool:
    """Statements prefixed ``@db `` run in the test database, others in ``postgres``."""
    return statements[0].startswith("@db ")
