"""A throw-away PostgreSQL server for the test session, started from the distribution's binaries.

``postgres_session_url()`` is the body of the session fixture ``pg_url``: it finds ``initdb`` and
``pg_ctl`` (``$AFTERSALE_PG_BIN``, ``PATH``, ``/usr/lib/postgresql/*/bin``), initialises a cluster
in a temporary folder, starts it on a free 127.0.0.1 port with its unix socket in that folder and
``fsync=off``, creates a database, yields a ``postgresql+psycopg://`` URL, and at the end stops the
server and removes the folder. PostgreSQL refuses to run as root, so under root the cluster is
owned by and run as the ``postgres`` system user (or ``$AFTERSALE_PG_USER``; created when missing).
Set ``$AFTERSALE_TEST_PG_URL`` to use an already running server instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

__all__ = [
    "PG_INSTALL_HINT",
    "PostgresServer",
    "PostgresUnavailableError",
    "create_database",
    "drop_database",
    "find_pg_bin",
    "postgres_session_url",
]

PG_INSTALL_HINT = "install Debian's postgresql package: apt-get install -y postgresql"
_BIN_ENV = "AFTERSALE_PG_BIN"
_USER_ENV = "AFTERSALE_PG_USER"
_URL_ENV = "AFTERSALE_TEST_PG_URL"
_FALLBACK_USER = "aftersale-pg"
_START_ATTEMPTS = 3
_START_TIMEOUT_S = 60
_INITDB_OPTIONS = ("-E", "UTF8", "--locale=C", "--no-sync")
_START_OPTIONS = ("-w", "-t", str(_START_TIMEOUT_S), "start", "-o")


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL server binaries cannot be found or the server cannot be started."""


def find_pg_bin() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl``, newest major version first."""
    explicit = os.environ.get(_BIN_ENV)
    if explicit:
        folder = Path(explicit)
        if not _has_server_binaries(folder):
            raise PostgresUnavailableError(f"${_BIN_ENV}={explicit} holds no initdb and pg_ctl")
        return folder
    on_path = shutil.which("pg_ctl")
    if on_path and _has_server_binaries(Path(on_path).parent):
        return Path(on_path).parent
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if _has_server_binaries(p)]
    candidates.sort(key=lambda p: _version_key(p.parent.name), reverse=True)
    return candidates[0] if candidates else None


def _has_server_binaries(folder: Path) -> bool:
    """True when ``folder`` holds executable ``initdb``, ``pg_ctl`` and ``postgres``."""
    return all(os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres"))


def _version_key(name: str) -> tuple[int, ...]:
    """Sort key for folder names such as ``15`` or ``9.6``."""
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _free_port() -> int:
    """Ask the kernel for a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root, else ``None``."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(_USER_ENV, "postgres")
    for candidate in (name, _FALLBACK_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(candidate)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _FALLBACK_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(_FALLBACK_USER)


class PostgresServer:
    """One initdb'd cluster in a temporary folder; use as a context manager."""

    def __init__(self, bin_dir: Path, *, database: str = "aftersale_test") -> None:
        """Remember where the binaries are; nothing starts until :meth:`start`."""
        self.bin_dir = bin_dir
        self.database = database
        self.port: int | None = None
        self._user = _server_user()
        self._root: Path | None = None

    @property
    def url(self) -> str:
        """The ``postgresql+psycopg://`` URL of the test database."""
        if self.port is None:
            raise PostgresUnavailableError("the server is not running")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> str:
        """Initialise, start and wait for the server; create the database; return its URL."""
        self._root = Path(tempfile.mkdtemp(prefix="aftersale-pg-"))
        atexit.register(self.stop)
        if self._user is not None:
            os.chown(self._root, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "initdb",
            ["-D", str(self._data), "-U", "postgres", "-A", "trust", *_INITDB_OPTIONS],
        )
        with (self._data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "\n# aftersale test server\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self._root}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
            )
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = _free_port()
            try:
                self._run(
                    "pg_ctl",
                    [
                        "-D",
                        str(self._data),
                        "-l",
                        str(self._log),
                        *_START_OPTIONS,
                        f"-p {self.port}",
                    ],
                )
                break
            except PostgresUnavailableError:
                if attempt == _START_ATTEMPTS or "could not bind" not in self._log_tail():
                    raise
        self._wait_ready()
        create_database(self.url.rsplit("/", 1)[0] + "/postgres", self.database)
        return self.url

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and delete its folder; safe to call twice."""
        root, self._root = self._root, None
        if root is None:
            return
        atexit.unregister(self.stop)
        if (root / "data" / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                with contextlib.suppress(PostgresUnavailableError):
                    self._run("pg_ctl", ["-D", str(root / "data"), "-m", mode, "-w", "stop"])
                    break
        shutil.rmtree(root, ignore_errors=True)
        self.port = None

    def __enter__(self) -> Self:
        """Start the server (cleaning up after itself if it cannot)."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server and remove its files."""
        self.stop()

    @property
    def _data(self) -> Path:
        """The cluster's data directory."""
        assert self._root is not None
        return self._root / "data"

    @property
    def _log(self) -> Path:
        """The server's log file."""
        assert self._root is not None
        return self._root / "server.log"

    def _log_tail(self, lines: int = 20) -> str:
        """The last lines of the server log, for error messages."""
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _run(self, program: str, args: Sequence[str]) -> None:
        """Run one server binary as the unprivileged user; raise with its output on failure."""
        user = self._user
        result = subprocess.run(
            [str(self.bin_dir / program), *args],
            cwd=self._root,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=_START_TIMEOUT_S + 30,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresUnavailableError(
                f"{program} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
                f"server log:\n{self._log_tail()}"
            )

    def _wait_ready(self) -> None:
        """Poll until the server accepts connections on its TCP port."""
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=self.port, user="postgres", dbname="postgres"
                ):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresUnavailableError(
                        f"server did not accept connections:\n{self._log_tail()}"
                    ) from None
                time.sleep(0.1)


def _admin_conninfo(url: str) -> str:
    """libpq conninfo for the ``postgres`` database of the server behind ``url``."""
    parsed = make_url(url)
    return make_conninfo(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
    )


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server behind ``url``; return its SQLAlchemy URL."""
    with psycopg.connect(_admin_conninfo(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database named in ``url``, closing any connection still open to it."""
    name = make_url(url).database
    if not name:
        raise ValueError(f"{make_url(url).render_as_string()} names no database")
    with psycopg.connect(_admin_conninfo(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def postgres_session_url() -> Iterator[str]:
    """Body of the ``pg_url`` session fixture: yield a server URL, or skip / fail without one."""
    external = os.environ.get(_URL_ENV)
    if external:
        yield external
        return
    try:
        bin_dir = find_pg_bin()
    except PostgresUnavailableError as exc:
        pytest.fail(f"{exc}; {PG_INSTALL_HINT}", pytrace=False)
    if bin_dir is None:
        message = (
            "PostgreSQL server binaries not found (looked in $AFTERSALE_PG_BIN, PATH and "
            f"/usr/lib/postgresql/*/bin); {PG_INSTALL_HINT}"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with PostgresServer(bin_dir) as server:
        yield server.url
