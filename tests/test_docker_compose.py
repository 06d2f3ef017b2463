"""The deployment files under docker/, checked as text: no Docker engine runs here.

Compose interpolation (`${VAR:?message}`, `${VAR:-default}`) is plain text to PyYAML and
is read as such. No database is used.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from banksight.localservices import APP_ROLE, OWNER_ROLE, ROLES_SQL

BASE_DIR = Path(__file__).resolve().parent.parent
DOCKER_DIR = BASE_DIR / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"

APP_SERVICES = ["web", "worker", "beat"]
IMAGE_SERVICES = [*APP_SERVICES, "migrate"]  # every service built from docker/Dockerfile

# `${NAME:?message}`: compose refuses to start while NAME is unset or empty.
REQUIRED_VARIABLE = re.compile(r"\$\{(?P<name>\w+):\?[^}]+\}")
# `${NAME:-default}` or `${NAME-default}` where NAME looks like a secret.
SECRET_WITH_DEFAULT = re.compile(r"\$\{(?P<name>\w*(?:SECRET|PASSWORD|TOKEN|KEY)\w*):?-")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def services(compose_text) -> dict:
    return yaml.safe_load(compose_text)["services"]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return _instructions(DOCKERFILE.read_text())


def _instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined."""
    logical = re.sub(r"\\\n", " ", text)
    lines = (line.strip() for line in logical.splitlines())
    pairs = [line.split(maxsplit=1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def _env(service: dict) -> dict:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(
            item.split("=", 1) if "=" in item else (item, None) for item in environment
        )
    return environment


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def _url(value: str):
    """The URL with each `${VAR...}` read as `VAR`: the `?` of `${VAR:?...}` would otherwise
    end urlsplit's host part."""
    return urlsplit(re.sub(r"\$\{(\w+)[^}]*\}", r"\1", value))


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _container_ports(service: dict) -> set[int]:
    """Container-side ports of `ports:`, short ("HOST:CONTAINER/proto") or long syntax."""
    ports = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


# --- compose.yml ----------------------------------------------------------------------


def test_all_services_are_defined(services):
    expected = {"postgres", "redis", "web", "worker", "beat", "inference", "migrate"}
    assert expected <= services.keys()


@pytest.mark.parametrize("name", IMAGE_SERVICES)
def test_app_services_build_from_the_project_dockerfile(services, name):
    build = services[name]["build"]
    assert build["dockerfile"] == "docker/Dockerfile"
    assert (DOCKER_DIR / build["context"]).resolve() == BASE_DIR


@pytest.mark.parametrize("name", IMAGE_SERVICES)
def test_app_services_run_the_production_settings(services, name):
    assert _env(services[name])["DJANGO_ENV"] == "production"


@pytest.mark.parametrize("name", IMAGE_SERVICES)
def test_app_services_use_the_compose_postgres_and_redis(services, name):
    env = _env(services[name])
    database = _url(env["DATABASE_URL"])
    redis = _url(env["REDIS_URL"])
    assert (database.scheme, database.hostname) == ("postgresql", "postgres")
    assert (redis.scheme, redis.hostname) == ("redis", "redis")


def test_web_runs_the_asgi_application_with_uvicorn(services):
    command = _command(services["web"])
    assert command[:2] == ["uvicorn", "banksight.asgi:application"]
    assert _option(command, "--host") == "0.0.0.0"  # noqa: S104 - inside the container
    assert _option(command, "--port") == "8000"
    assert "--proxy-headers" in command


def test_web_publishes_port_8000(services):
    assert 8000 in _container_ports(services["web"])


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_celery_services_run_their_celery_command(services, name):
    assert _command(services[name])[:4] == ["celery", "-A", "banksight", name]


def test_web_waits_for_healthy_postgres_and_redis_and_for_migrations(services):
    depends_on = services["web"]["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_migrate_runs_migrations_once_then_registers_the_inference_backend(services):
    migrate = services["migrate"]
    command = " ".join(_command(migrate))
    assert "python manage.py migrate --noinput && " in command
    assert command.endswith("python manage.py model_backends_sync --from-env")
    assert migrate["restart"] == "no"


def test_worker_starts_after_the_inference_server(services):
    assert services["worker"]["depends_on"]["inference"]["condition"] == "service_started"


@pytest.mark.parametrize(
    ("name", "probe"),
    [("postgres", "pg_isready"), ("redis", "redis-cli"), ("inference", "/health")],
)
def test_backing_services_have_healthchecks(services, name, probe):
    assert probe in " ".join(services[name]["healthcheck"]["test"])


def test_postgres_volume_is_where_postgres_18_keeps_its_data(services):
    # From 18 on, the image's data lives in /var/lib/postgresql/18/docker: a volume at the
    # old /var/lib/postgresql/data makes the container refuse to start.
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:18"
    data = [volume for volume in postgres["volumes"] if not volume.startswith("./")]
    assert [volume.split(":")[1] for volume in data] == ["/var/lib/postgresql"]


def test_inference_uses_a_pinned_vllm_openai_image(services):
    image = services["inference"]["image"]
    match = re.fullmatch(r"vllm/vllm-openai:\$\{\w+:-(?P<tag>[^}]+)\}", image)
    assert match, image
    assert match["tag"] != "latest"


def test_inference_reserves_an_nvidia_gpu(services):
    devices = services["inference"]["deploy"]["resources"]["reservations"]["devices"]
    assert {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]} in devices


def test_inference_listens_where_the_app_expects_it(services):
    command = _command(services["inference"])
    url = _url(_env(services["web"])["INFERENCE_URL"])
    assert url.hostname == "inference"
    assert url.port == int(_option(command, "--port"))
    assert str(url.port) in [str(port) for port in services["inference"]["expose"]]


def test_inference_serves_the_model_name_the_app_asks_for(services):
    command = _command(services["inference"])
    app_model = _env(services["worker"])["INFERENCE_MODEL"]
    assert _option(command, "--served-model-name") == app_model
    assert _option(command, "--model") == app_model


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        *(
            (name, variable)
            for name in IMAGE_SERVICES
            for variable in (
                "DJANGO_SECRET_KEY",
                "FIELD_ENCRYPTION_KEYS",
                "FIELD_ENCRYPTION_KEY_ID",
                "FIELD_HASH_KEY",
            )
        ),
        ("postgres", "POSTGRES_PASSWORD"),
        ("postgres", "BANKSIGHT_DB_OWNER_PASSWORD"),
        ("postgres", "BANKSIGHT_DB_APP_PASSWORD"),
    ],
)
def test_secrets_must_be_supplied(services, service, variable):
    match = REQUIRED_VARIABLE.fullmatch(_env(services[service])[variable])
    assert match, f"{service}.{variable} must use ${{{variable}:?...}}"
    assert match["name"] == variable


def _login(url: str) -> tuple[str, re.Match | None]:
    """The user of a database URL and the `${VAR:?...}` that is its password."""
    user, password = url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)
    return user, REQUIRED_VARIABLE.fullmatch(password)


@pytest.mark.parametrize("name", IMAGE_SERVICES)
def test_the_app_connects_as_the_application_role_with_a_required_password(services, name):
    user, password = _login(_env(services[name])["DATABASE_URL"])
    assert user == APP_ROLE
    assert password, "the password must be ${BANKSIGHT_DB_APP_PASSWORD:?...}"
    assert password["name"] == "BANKSIGHT_DB_APP_PASSWORD"


def test_only_migrate_connects_as_the_schema_owner(services):
    env = _env(services["migrate"])
    user, password = _login(env["DATABASE_OWNER_URL"])
    assert (user, password and password["name"]) == (OWNER_ROLE, "BANKSIGHT_DB_OWNER_PASSWORD")
    owner, app = _url(env["DATABASE_OWNER_URL"]), _url(env["DATABASE_URL"])
    assert (owner.hostname, owner.port, owner.path) == (app.hostname, app.port, app.path)
    for name in APP_SERVICES:
        assert "DATABASE_OWNER_URL" not in _env(services[name]), name


def test_postgres_creates_both_roles_with_the_script_of_the_embedded_server(services):
    postgres = services["postgres"]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in postgres["volumes"][1:])
    init = next(
        source for source, target in mounts.items() if "/docker-entrypoint-initdb.d/" in target
    )
    script = (DOCKER_DIR / init).read_text()
    sql_source, sql_target = next((s, t) for s, t in mounts.items() if s.endswith(".sql"))
    assert f"-f {sql_target}" in script
    # banksight/localservices.py runs the same roles.sql for development and tests.
    assert (DOCKER_DIR / sql_source).resolve() == ROLES_SQL
    assert f"owner_role={OWNER_ROLE}" in script
    assert f"app_role={APP_ROLE}" in script
    assert "owner_createdb=NOCREATEDB" in script
    env = _env(postgres)
    assert env["POSTGRES_USER"] not in {OWNER_ROLE, APP_ROLE}  # the superuser is neither


def test_no_secret_has_a_default(compose_text, services):
    assert SECRET_WITH_DEFAULT.findall(compose_text) == []
    for service in services.values():
        for key, value in _env(service).items():
            if re.search(r"SECRET|PASSWORD|TOKEN|KEY", key):
                # Either required (`${VAR:?...}`) or passed through from the host (no value).
                assert value is None or REQUIRED_VARIABLE.fullmatch(value), f"{key}={value}"


# --- Dockerfile -----------------------------------------------------------------------


def test_dockerfile_runs_as_a_non_root_user(dockerfile):
    keywords = [keyword for keyword, _ in dockerfile]
    last_from = len(keywords) - 1 - keywords[::-1].index("FROM")
    users = [args for keyword, args in dockerfile[last_from:] if keyword == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_cmd_runs_the_asgi_application(dockerfile):
    commands = [args for keyword, args in dockerfile if keyword == "CMD"]
    assert "banksight.asgi:application" in commands[-1]
    assert "uvicorn" in commands[-1]


def test_dockerfile_healthcheck_probes_healthz(dockerfile):
    healthchecks = [args for keyword, args in dockerfile if keyword == "HEALTHCHECK"]
    assert "/healthz" in healthchecks[-1]


def test_dockerfile_bakes_no_settings_secrets_or_service_urls(dockerfile):
    # The build-only values for collectstatic live in one RUN, never in ENV or ARG.
    baked = " ".join(args for keyword, args in dockerfile if keyword in {"ENV", "ARG"})
    for variable in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ENV"):
        assert variable not in baked


def test_build_context_leaves_out_local_state_and_secrets():
    ignored = (DOCKER_DIR / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", ".var", "**/.env"} <= set(ignored)
