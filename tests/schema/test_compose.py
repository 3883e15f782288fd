"""Static checks of the production topology (CONTRACT §5): docker-compose.yml, its Dockerfile,
its .env.example and the Grafana data source. Docker itself is not needed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.topics import topics

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "compose" / "Dockerfile"
ENV_EXAMPLE = ROOT / "infra" / "compose" / ".env.example"
DATASOURCE = ROOT / "infra" / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml"
SETTINGS = ROOT / "pipeline" / "settings.py"
README = ROOT / "README.md"
#: Settings deliberately not passed to the containers that run Parcours' code, with the reason.
NOT_PASSED = {
    "PARCOURS_SINK": "every compose worker writes to ClickHouse; `--scale` gives all one environment",
}

# ${VAR}, ${VAR:-default}, ${VAR:?message} ... but not the escaped $${VAR}.
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
PARCOURS_VAR = re.compile(r"PARCOURS_[A-Z_]+")
# ${VAR:-default}: the variable, its default.
OPTIONAL_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}")


@pytest.fixture(scope="module")
def compose_text() -> str:
    assert COMPOSE.is_file(), f"{COMPOSE} is missing"
    return COMPOSE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict:
    data = yaml.safe_load(compose_text)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def env_of(service: dict) -> dict[str, str]:
    """A service's environment as a dict, whichever form (mapping or list) it is written in."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def published(service: dict) -> list[tuple[str, str]]:
    """(host address, host port) of each published port: '' for every interface, '' for an
    ephemeral host port; long form (dict) or short form ("ip:host:container/proto")."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            result.append((str(port.get("host_ip") or ""), str(port.get("published") or "")))
            continue
        parts = str(port).split("/", 1)[0].rsplit(":", 2)
        result.append((parts[0] if len(parts) == 3 else "", parts[-2] if len(parts) >= 2 else ""))
    return result


def host_ports(service: dict) -> list[str]:
    return [port for _, port in published(service)]


def host_ips(service: dict) -> list[str]:
    return [ip for ip, _ in published(service)]


def container_ports(service: dict) -> list[str]:
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            result.append(str(port.get("target")))
        else:
            result.append(str(port).split("/", 1)[0].rsplit(":", 1)[-1])
    return result


def depends_condition(service: dict, other: str) -> str | None:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return "service_started" if other in deps else None
    if other not in deps:
        return None
    return (deps[other] or {}).get("condition", "service_started")


def documented_vars() -> set[str]:
    return set(example_values())


def example_values() -> dict[str, str]:
    """{name: value} of the lines of .env.example, commented-out ones included."""
    assert ENV_EXAMPLE.is_file(), f"{ENV_EXAMPLE} is missing"
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if m:
            values[m.group(1)] = m.group(2).strip()
    return values


# --- services and images ---------------------------------------------------------------


def test_expected_services_exist(services):
    for name in ("kafka", "clickhouse", "migrate", "worker", "grafana"):
        assert name in services, f"service {name!r} missing from docker-compose.yml"


def test_kafka_is_apache_kafka_in_kraft_mode(services):
    kafka = services["kafka"]
    assert str(kafka.get("image", "")).startswith("apache/kafka:")
    env = env_of(kafka)
    roles = {r.strip() for r in env.get("KAFKA_PROCESS_ROLES", "").split(",")}
    assert {"broker", "controller"} <= roles
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS"), "KRaft needs KAFKA_CONTROLLER_QUORUM_VOTERS"
    assert env.get("KAFKA_NODE_ID")
    assert not any(k.startswith("KAFKA_ZOOKEEPER") for k in env)
    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "").lower() == "false"
    assert "healthcheck" in kafka


def test_no_zookeeper(services):
    for name, svc in services.items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(svc.get("image", "")).lower()


def test_images(services):
    assert str(services["clickhouse"]["image"]).startswith("clickhouse/clickhouse-server:")
    assert str(services["grafana"]["image"]).startswith("grafana/grafana:")


# --- ports ------------------------------------------------------------------------------


def test_published_ports(services):
    assert "8123" in container_ports(services["clickhouse"])
    assert "8123" in host_ports(services["clickhouse"])
    assert "3000" in container_ports(services["grafana"])
    assert "3000" in host_ports(services["grafana"])


def test_clickhouse_is_published_on_loopback_only(services):
    """The pipeline's read-write user must not face the network by default (README says how
    to let a BI tool in deliberately)."""
    clickhouse = services["clickhouse"]
    assert {"8123", "9000"} <= set(container_ports(clickhouse))
    assert set(host_ips(clickhouse)) == {"127.0.0.1"}, clickhouse["ports"]


def test_worker_can_scale(services):
    worker = services["worker"]
    fixed = [p for p in host_ports(worker) if p and "-" not in p]
    assert not fixed, f"worker publishes fixed host ports {fixed}; --scale worker=N would clash"
    assert "container_name" not in worker, "container_name prevents --scale worker=N"


def test_every_scaled_worker_publishes_its_collector(services):
    """SDKs outside the Docker network reach /v1/batch on any worker: 6066 is published on a
    host port range with one port per worker, as many as the partitions that bound them."""
    worker = services["worker"]
    published = dict(zip(container_ports(worker), host_ports(worker), strict=True))
    assert "6066" in published, "the worker's HTTP port 6066 is not published on the host"
    low, _, high = published["6066"].partition("-")
    assert high, f"6066 is published on one host port ({low}): a second worker could not start"
    partitions = max(t.partitions for t in topics().all())
    assert int(high) - int(low) + 1 >= partitions, f"{low}-{high} has fewer ports than the {partitions} partitions"


# --- commands, environment, dependencies ------------------------------------------------


def test_commands(services):
    assert services["worker"]["command"] == ["parcours", "worker"]
    assert services["migrate"]["command"] == ["parcours", "migrate"]


def test_parcours_services_are_built_from_the_repo(services):
    for name in ("worker", "migrate"):
        build = services[name].get("build")
        assert isinstance(build, dict), f"{name} must be built from this repository"
        assert build.get("context") in (".", "./")
        assert build.get("dockerfile") == "infra/compose/Dockerfile"


def test_worker_environment(services):
    env = env_of(services["worker"])
    bootstrap = env.get("PARCOURS_KAFKA_BOOTSTRAP", "")
    assert bootstrap.split(",")[0].split(":")[0] == "kafka", bootstrap
    url = env.get("PARCOURS_CLICKHOUSE_URL", "")
    assert url.startswith("http://"), url
    assert "@clickhouse:8123" in url or url.startswith("http://clickhouse:8123"), url
    for name in ("PARCOURS_PII_SALT", "PARCOURS_HTTP_PORT", "PARCOURS_SESSION_GAP"):
        assert env.get(name), f"worker environment lacks {name}"


def test_migrate_sees_the_same_clickhouse(services):
    assert env_of(services["migrate"]).get("PARCOURS_CLICKHOUSE_URL") == env_of(
        services["worker"]
    ).get("PARCOURS_CLICKHOUSE_URL")


def test_worker_dependencies(services):
    worker = services["worker"]
    assert depends_condition(worker, "kafka") == "service_healthy"
    assert depends_condition(worker, "clickhouse") == "service_healthy"
    assert depends_condition(worker, "migrate") == "service_completed_successfully"
    assert depends_condition(services["migrate"], "clickhouse") == "service_healthy"
    assert "healthcheck" in worker


def test_grafana_waits_for_the_bi_user(services):
    """Grafana's data source logs in as the BI user, which migrate creates."""
    assert depends_condition(services["grafana"], "migrate") == "service_completed_successfully"


def test_every_setting_reaches_the_containers_or_is_excluded_with_a_reason(services):
    """What pipeline/settings.py reads, a deployment can set: each is passed through (an
    optional one as ${VAR:-}, empty = its default) or listed in NOT_PASSED."""
    read = set(PARCOURS_VAR.findall(SETTINGS.read_text(encoding="utf-8")))
    passed = {name for svc in services.values() if svc.get("build") for name in env_of(svc)}
    missing = sorted(read - passed - set(NOT_PASSED))
    assert not missing, f"settings neither passed by docker-compose.yml nor in NOT_PASSED: {missing}"
    assert not set(NOT_PASSED) & passed, "a setting in NOT_PASSED is passed after all"
    worker = env_of(services["worker"])
    optional = {name for name, value in worker.items() if value.startswith(f"${{{name}:-")}
    assert "PARCOURS_WRITE_KEYS" in optional and "PARCOURS_KAFKA_REPLICATION" in optional
    undocumented = sorted(optional - documented_vars())
    assert not undocumented, f"optional settings not listed in {ENV_EXAMPLE.name}: {undocumented}"


def test_compose_defaults_are_the_settings_defaults(services, tmp_path):
    """An optional setting left out of the env file gets compose's ${VAR:-default}, which must
    be what the settings would choose themselves on a cluster."""
    from pipeline.settings import Settings

    fixed = {"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_PII_SALT": "a-test-salt-of-some-length",
             "PARCOURS_CLICKHOUSE_URL": "http://u:p@clickhouse:8123/parcours"}
    defaults = {name: m.group(2) for name, value in env_of(services["worker"]).items()
                if (m := OPTIONAL_VAR.fullmatch(value)) and m.group(1) == name}
    assert len(defaults) >= 8, defaults
    unset = Settings.from_env({"PARCOURS_KAFKA_BOOTSTRAP": "kafka:9092", **fixed}, dotenv=tmp_path / "none")
    compose = Settings.from_env({**env_of(services["worker"]), **defaults, **fixed}, dotenv=tmp_path / "none")
    assert compose == unset


def test_grafana_plugin_version_is_pinned(services):
    plugins = env_of(services["grafana"]).get("GF_INSTALL_PLUGINS", "")
    assert re.fullmatch(r"grafana-clickhouse-datasource \d+\.\d+\.\d+", plugins), plugins


def test_clickhouse_password_comes_from_the_environment(services):
    env = env_of(services["clickhouse"])
    password = env.get("CLICKHOUSE_PASSWORD", "")
    assert password, "ClickHouse must not run with an empty password"
    # Required (${VAR:?...} or ${VAR?...}), never a literal nor a default that would allow one.
    assert re.fullmatch(r"\$\{CLICKHOUSE_PASSWORD:?\?[^}]*\}", password), password
    assert "healthcheck" in services["clickhouse"]


def test_grafana_admin_password_is_required_and_provisioning_mounted(services):
    grafana = services["grafana"]
    env = env_of(grafana)
    admin_password = env.get("GF_SECURITY_ADMIN_PASSWORD", "")
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:?\?[^}]*\}", admin_password), admin_password
    assert "grafana-clickhouse-datasource" in env.get("GF_INSTALL_PLUGINS", "")
    mounts = [str(v) for v in grafana.get("volumes") or []]
    provisioning = "./infra/grafana/provisioning:/etc/grafana/provisioning"
    assert any(m.startswith(provisioning) for m in mounts), mounts


# --- variables --------------------------------------------------------------------------


def test_example_secrets_are_empty_so_compose_refuses_to_start(compose_text):
    """A placeholder password would run; an empty one is refused by ${VAR:?} (with the colon:
    ${VAR?} accepts an empty value)."""
    secrets = {name: value for name, value in example_values().items() if SECRET_NAME.search(name)}
    assert {"CLICKHOUSE_PASSWORD", "PARCOURS_PII_SALT", "PARCOURS_BI_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= set(secrets)
    assert {name: value for name, value in secrets.items() if value} == {}
    for name in secrets:
        assert f"${{{name}:?" in compose_text, f"{name} is not required (${{{name}:?...}})"


def test_compose_commands_name_their_env_file():
    """The compose env file lives in infra/compose/: at the root it would be the `.env` the CLI
    reads too. Every compose command shown must then name it."""
    for path in (README, COMPOSE, ENV_EXAMPLE):
        text = path.read_text(encoding="utf-8")
        bare = re.findall(r"docker compose (?:up|down|port|exec|logs|ps|run|config|pull|build|restart|stop|start)\b.*",
                          text)
        assert not bare, f"{path.name}: compose commands without --env-file infra/compose/.env: {bare}"
        assert "cp infra/compose/.env.example .env" not in text
    assert "cp infra/compose/.env.example infra/compose/.env" in README.read_text(encoding="utf-8")


def test_the_compose_env_file_is_ignored_by_git():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", "check-ignore", "-q", "infra/compose/.env"], cwd=ROOT, check=False)
    assert done.returncode == 0, "infra/compose/.env (secrets) is not in .gitignore"


def test_every_compose_variable_is_documented(compose_text):
    used = set(COMPOSE_VAR.findall(compose_text))
    assert used, "expected ${VAR} references in docker-compose.yml"
    missing = sorted(used - documented_vars())
    assert not missing, f"not documented in {ENV_EXAMPLE.relative_to(ROOT)}: {missing}"


def test_every_parcours_variable_is_known_to_settings(services):
    if not SETTINGS.is_file():
        pytest.fail(
            f"{SETTINGS.relative_to(ROOT)} does not exist: cannot check that the PARCOURS_* "
            "variables of docker-compose.yml are ones the project reads"
        )
    known = set(PARCOURS_VAR.findall(SETTINGS.read_text(encoding="utf-8")))
    # The containers that run Parcours' code (built from this repository); others (Grafana's
    # PARCOURS_BI_*) read their PARCOURS_* variables themselves.
    used = {name for svc in services.values() if svc.get("build")
            for name in env_of(svc) if PARCOURS_VAR.fullmatch(name)}
    assert used, "expected PARCOURS_* variables in the worker and migrate environments"
    unknown = sorted(used - known)
    assert not unknown, f"compose sets PARCOURS_* variables settings.py never reads: {unknown}"


# --- Dockerfile, .dockerignore, Grafana data source ------------------------------------


def test_dockerfile_installs_the_project():
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM\s+python:3\.11", text, re.M)
    assert re.search(r"^COPY\s+\.\s+/app", text, re.M)
    installs = re.search(r"pip install\b.*\s\.\s*$", text, re.M)
    assert installs, "the Dockerfile must pip install the project"
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert re.search(r"^EXPOSE\s+6066", text, re.M)


def test_dockerignore_keeps_secrets_and_state_out():
    path = ROOT / ".dockerignore"
    assert path.is_file()
    entries = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    for entry in (".venv", ".parcours", ".git", ".env"):
        assert entry in entries, f".dockerignore should exclude {entry}"


def test_grafana_clickhouse_datasource():
    assert DATASOURCE.is_file(), f"{DATASOURCE} is missing"
    data = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))
    (ds,) = [d for d in data["datasources"] if d["type"] == "grafana-clickhouse-datasource"]
    json_data = ds["jsonData"]
    assert json_data["host"] == "clickhouse"
    assert int(json_data["port"]) == 8123
    assert json_data["protocol"] == "http"
    assert json_data["defaultDatabase"] == "parcours"
    # Grafana reads as the read-only BI user, from the grafana container's environment.
    assert str(json_data["username"]) == "${PARCOURS_BI_USER}"
    assert str(ds["secureJsonData"]["password"]) == "${PARCOURS_BI_PASSWORD}", "no literal password"


def test_grafana_gets_the_bi_credentials_from_the_environment(services):
    env = env_of(services["grafana"])
    assert env.get("PARCOURS_BI_USER") == "${PARCOURS_BI_USER:-parcours_bi}"
    assert re.fullmatch(r"\$\{PARCOURS_BI_PASSWORD:?\?[^}]*\}", env.get("PARCOURS_BI_PASSWORD", ""))
    assert "CLICKHOUSE_PASSWORD" not in env, "Grafana must not hold the pipeline's read-write password"


def test_grafana_provisions_the_plugin_and_the_dashboards(services):
    grafana = services["grafana"]
    env = env_of(grafana)
    plugins = ",".join(env.get(k, "") for k in ("GF_INSTALL_PLUGINS", "GF_PLUGINS_PREINSTALL"))
    assert "grafana-clickhouse-datasource" in plugins
    provider = ROOT / "infra" / "grafana" / "provisioning" / "dashboards" / "parcours.yaml"
    path = yaml.safe_load(provider.read_text(encoding="utf-8"))["providers"][0]["options"]["path"]
    mounts = [str(v) for v in grafana.get("volumes") or []]
    assert f"./infra/grafana/dashboards:{path}:ro" in mounts, mounts
    assert list((ROOT / "infra" / "grafana" / "dashboards").glob("*.json")), "no dashboard to provision"


def test_worker_health_check_uses_health_and_ready(services):
    test = " ".join(services["worker"]["healthcheck"]["test"])
    assert "6066" in test and "health" in test and "ready" in test


# --- ClickHouse users and secrets --------------------------------------------------------

# ${VAR:?message} or ${VAR?message}: required, no default that could stand in for a secret.
REQUIRED_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|SALT|TOKEN")
# scheme://USER[:PASSWORD]@host, where USER may itself be an interpolation with a ':' inside.
URL_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.\-]*://(\$\{[^}]*\}|[^:@/]+)(?::(\$\{[^}]*\}|[^@/]*))?@")


def test_no_service_defines_a_clickhouse_user_without_a_password(services):
    """Every FOO_USER comes with a required FOO_PASSWORD, every URL user with a password."""
    for name, service in services.items():
        env = env_of(service)
        for key, value in env.items():
            if key.endswith("_USER") and not key.startswith(("GF_", "KAFKA_")):
                password = env.get(key.removesuffix("USER") + "PASSWORD", "")
                assert REQUIRED_VAR.fullmatch(password), f"{name}: {key} without a required password"
            credentials = URL_CREDENTIALS.match(value)
            if credentials:
                assert REQUIRED_VAR.fullmatch(credentials.group(2) or ""), f"{name}: {key} has no required password"


def test_every_secret_comes_from_a_required_variable(services):
    """No literal password, salt or token, and no default that would be one."""
    for name, service in services.items():
        for key, value in env_of(service).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_VAR.fullmatch(value), f"{name}: {key}={value!r} is a literal or has a default"


def test_the_passwordless_default_user_is_gone(services):
    """The image removes `default` (users.d/default-user.xml) whenever a password is given; the
    user it creates instead may manage access, which migrate needs for the BI role and user."""
    env = env_of(services["clickhouse"])
    assert env.get("CLICKHOUSE_USER") and REQUIRED_VAR.fullmatch(env.get("CLICKHOUSE_PASSWORD", ""))
    assert env.get("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT") == "1"


def test_the_bi_user_is_created_by_migrate_with_grafanas_credentials(services):
    migrate, grafana = env_of(services["migrate"]), env_of(services["grafana"])
    assert REQUIRED_VAR.fullmatch(migrate.get("PARCOURS_BI_PASSWORD", ""))
    assert migrate.get("PARCOURS_BI_PASSWORD") == grafana.get("PARCOURS_BI_PASSWORD")
    assert migrate.get("PARCOURS_BI_USER") == grafana.get("PARCOURS_BI_USER")
    assert "PARCOURS_BI_PASSWORD" not in env_of(services["worker"]), "workers never need the BI password"
