"""docker/compose.yaml and docker/k8s/values.yaml, checked for structure (no Docker engine or
cluster runs here).

Compose: no installable package ships the compose-spec JSON schema (compose-spec on PyPI is
Rust bindings; compose-pydantic a generated model of an older snapshot), so this is a focused
validator of what the stack relies on: known keys, an image or a build whose Dockerfile and
target exist, depends_on naming defined services (a health condition naming one with a
health check), named volumes and configs declared, every `${VAR}` with a default and in
.env.example, the variables docker/dagster.yaml reads all set, the workspace's gRPC address
served by the `code` service.

Helm: the Dagster chart is not on PyPI. Its values render into the instance's dagster.yaml and
the K8s run launcher's config, whose schemas ship with dagster and dagster-k8s: every key under
those parts of values.yaml must be one of theirs (camelCase in values, snake_case in Python).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.production

DOCKER = Path(__file__).resolve().parents[2] / "docker"

# The compose-spec service keys (compose-spec.json, `service` definition).
SERVICE_KEYS = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "command", "configs",
    "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares",
    "cpus", "cpuset", "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules", "devices", "dns", "dns_opt",
    "dns_search", "domainname", "entrypoint", "env_file", "environment", "expose", "extends", "external_links", "extra_hosts",
    "gpus", "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation", "labels", "links", "logging",
    "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "network_mode", "networks",
    "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop", "privileged",
    "profiles", "provider", "pull_policy", "read_only", "restart", "runtime", "scale", "secrets", "security_opt", "shm_size",
    "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "user", "userns_mode",
    "uts", "volumes", "volumes_from", "working_dir",
}  # fmt: skip
TOP_KEYS = {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"}
HEALTHCHECK_KEYS = {"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"}
DEPENDS_KEYS = {"condition", "required", "restart"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART = {"no", "always", "on-failure", "unless-stopped"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _problems(compose: dict[str, Any]) -> list[str]:
    """Everything structurally wrong with a parsed compose file (anchors and `<<` merged by the loader)."""
    out: list[str] = [f"unknown top-level key {k!r}" for k in compose if k not in TOP_KEYS and not k.startswith("x-")]
    services: dict[str, Any] = compose.get("services") or {}
    volumes, configs = set(compose.get("volumes") or {}), set(compose.get("configs") or {})
    if not services:
        out.append("no services")
    for name, svc in services.items():
        where = f"service {name}"
        out += [f"{where}: unknown key {k!r}" for k in svc if k not in SERVICE_KEYS and not k.startswith("x-")]
        if "image" not in svc and "build" not in svc:
            out.append(f"{where}: neither image nor build")
        if "build" in svc:
            out += _build_problems(where, svc["build"])
        if svc.get("restart", "no") not in RESTART:
            out.append(f"{where}: restart {svc['restart']!r}")
        check = svc.get("healthcheck")
        if check is not None:
            out += [f"{where}: unknown healthcheck key {k!r}" for k in check if k not in HEALTHCHECK_KEYS]
            test = check.get("test")
            if not check.get("disable") and not (isinstance(test, str) or (isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL", "NONE"))):
                out.append(f"{where}: healthcheck test must be a string or a list starting CMD/CMD-SHELL/NONE")
            out += [f"{where}: healthcheck {k} {check[k]!r} is not a duration" for k in ("interval", "timeout", "start_period") if k in check and not DURATION.match(str(check[k]))]
        deps = svc.get("depends_on") or {}
        for dep, spec in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            target = services.get(dep)
            if target is None:
                out.append(f"{where}: depends_on {dep!r}, which is not a service")
                continue
            out += [f"{where}: depends_on {dep}: unknown key {k!r}" for k in spec if k not in DEPENDS_KEYS]
            condition = spec.get("condition", "service_started")
            if condition not in CONDITIONS:
                out.append(f"{where}: depends_on {dep}: condition {condition!r}")
            hc = target.get("healthcheck") or {}
            if condition == "service_healthy" and (not hc or hc.get("disable")):
                out.append(f"{where}: waits for {dep} to be healthy, but {dep} has no health check")
        for mount in svc.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
            named = source and not source.startswith(("/", ".", "~", "$"))
            if named and source not in volumes:
                out.append(f"{where}: volume {source!r} is not declared under top-level volumes")
        for cfg in svc.get("configs") or []:
            source = cfg if isinstance(cfg, str) else cfg.get("source")
            if source not in configs:
                out.append(f"{where}: config {source!r} is not declared under top-level configs")
        for port in svc.get("ports") or []:
            if not re.match(r"^((\$\{[^}]+\}|[\d.]+):)?(\$\{[^}]+\}|\d+):\d+(/(tcp|udp))?$", str(port)):
                out.append(f"{where}: port {port!r} is not [HOST_IP:]HOST:CONTAINER")
        env = svc.get("environment") or {}
        if not isinstance(env, dict) or any(not isinstance(v, str | int | float | bool | type(None)) for v in env.values()):
            out.append(f"{where}: environment must be a mapping of scalars")
    return out


def _build_problems(where: str, build: Any) -> list[str]:
    spec = {"context": build} if isinstance(build, str) else build
    context = (DOCKER / spec.get("context", ".")).resolve()
    dockerfile = context / spec.get("dockerfile", "Dockerfile")
    if not dockerfile.is_file():
        return [f"{where}: build dockerfile {dockerfile} does not exist"]
    stages = re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", dockerfile.read_text())
    target = spec.get("target")
    return [f"{where}: build target {target!r} is not a stage of {dockerfile.name} ({stages})"] if target and target not in stages else []


def test_compose_is_structurally_valid() -> None:
    assert _problems(_compose()) == []


def test_the_validator_catches_what_it_claims_to() -> None:
    """Each kind of mistake, made on purpose in a copy, is reported."""
    broken = _compose()
    services = broken["services"]
    services["webserver"]["depends_on"]["nope"] = {"condition": "service_healthy"}
    services["daemon"]["depends_on"] = {"s3-init": {"condition": "service_healthy"}}  # s3-init's health check is disabled
    services["code"]["volumes"] = ["missing-volume:/x"]
    services["steward"]["imagee"] = "typo"
    services["postgres"]["healthcheck"]["interval"] = "five seconds"
    services["s3"]["configs"] = [{"source": "missing-config", "target": "/x"}]
    services["code"]["build"] = {"context": "..", "dockerfile": "docker/Dockerfile", "target": "no-such-stage"}
    found = "\n".join(_problems(broken))
    for expected in ("depends_on 'nope'", "s3-init has no health check", "'missing-volume'", "unknown key 'imagee'",
                     "'five seconds' is not a duration", "'missing-config'", "'no-such-stage'"):  # fmt: skip
        assert expected in found, expected


def test_every_compose_variable_has_a_default_and_is_documented() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    documented = set(re.findall(r"(?m)^#?\s*([A-Z][A-Z0-9_]*)=", (DOCKER / ".env.example").read_text()))
    used = VARIABLE.findall(text)
    assert used
    assert [name for name, default in used if not default.startswith(":-")] == []  # the stack starts without docker/.env
    assert sorted({name for name, _ in used} - documented) == []


def test_the_containers_get_every_variable_the_production_instance_reads() -> None:
    wanted = set(re.findall(r"env: ([A-Z_]+)", (DOCKER / "dagster.yaml").read_text()))
    assert wanted >= {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_COMPUTE_LOG_BUCKET"}
    services = _compose()["services"]
    for name in ("code", "webserver", "daemon"):
        assert sorted(wanted - set(services[name]["environment"])) == [], name
    for name in ("code", "daemon"):  # the lake, and the landing root the sensor watches, are S3 prefixes
        env = services[name]["environment"]
        assert env["TESSERA_LAKE_URI"].startswith("${TESSERA_LAKE_URI:-s3://")
        assert env["TESSERA_LANDING_ROOT"].startswith("${TESSERA_LANDING_ROOT:-s3://")


def test_the_workspace_points_at_the_code_servers_port() -> None:
    services = _compose()["services"]
    for workspace, service in (("workspace.yaml", "code"), ("workspace.gpu.yaml", "code-gpu")):
        (entry,) = yaml.safe_load((DOCKER / workspace).read_text())["load_from"]
        grpc = entry["grpc_server"]
        command = services[service]["command"]
        assert grpc["host"] == service and str(grpc["port"]) == command[command.index("-p") + 1]
        assert grpc["location_name"] == command[command.index("--location-name") + 1]


# -- Helm values -----------------------------------------------------------------------------------
SECRET_REFS = ("envSecrets", "envConfigMaps")


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _unknown(values: Any, schema: Any, path: str) -> list[str]:
    """Keys of `values` (camelCase) that the Dagster config `schema` (snake_case) does not have."""
    from dagster._config import ConfigTypeKind

    kind = schema.kind
    if kind == ConfigTypeKind.NONEABLE:
        return _unknown(values, schema.inner_type, path)
    if kind == ConfigTypeKind.SCALAR_UNION:  # a scalar, or (as here) its mapping form
        return _unknown(values, schema.non_scalar_type, path) if isinstance(values, dict | list) else []
    if kind == ConfigTypeKind.ARRAY:
        return [p for i, v in enumerate(values) for p in _unknown(v, schema.inner_type, f"{path}[{i}]")]
    if kind == ConfigTypeKind.MAP:
        return [p for k, v in values.items() for p in _unknown(v, schema.inner_type, f"{path}.{k}")]
    if not isinstance(values, dict) or kind not in (ConfigTypeKind.STRICT_SHAPE, ConfigTypeKind.PERMISSIVE_SHAPE, ConfigTypeKind.SELECTOR):
        return []
    if kind == ConfigTypeKind.PERMISSIVE_SHAPE and not schema.fields:
        return []
    out = []
    for key, value in values.items():
        field = schema.fields.get(_snake(key)) or schema.fields.get(key)
        if field is None:
            out.append(f"{path}.{key}")
        elif key in SECRET_REFS:  # the chart takes Kubernetes refs ({name: ...}) and renders their names
            out += [f"{path}.{key}[{i}]" for i, ref in enumerate(value) if not (isinstance(ref, dict) and set(ref) == {"name"})]
        else:
            out += _unknown(value, field.config_type, f"{path}.{key}")
    return out


def test_helm_values_use_only_keys_the_dagster_configs_they_render_into_have() -> None:
    from dagster._config import resolve_to_config_type
    from dagster._core.instance.config import dagster_instance_config_schema
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_k8s import K8sRunLauncher

    values = yaml.safe_load((DOCKER / "k8s" / "values.yaml").read_text())
    instance = dagster_instance_config_schema()
    daemon = values["dagsterDaemon"]
    parts = [
        (daemon["runMonitoring"], instance["run_monitoring"].config_type, "dagsterDaemon.runMonitoring"),
        (daemon["runRetries"], instance["run_retries"].config_type, "dagsterDaemon.runRetries"),
        ({k: v for k, v in values["concurrency"].items() if k != "enabled"}, instance["concurrency"].config_type, "concurrency"),
        (values["runLauncher"]["config"]["k8sRunLauncher"], resolve_to_config_type(K8sRunLauncher.config_type()), "runLauncher.config.k8sRunLauncher"),
        (values["computeLogManager"]["config"]["s3ComputeLogManager"], resolve_to_config_type(S3ComputeLogManager.config_type()),
         "computeLogManager.config.s3ComputeLogManager"),
    ]  # fmt: skip
    assert [p for v, schema, path in parts for p in _unknown(v, schema, path)] == []
    assert _unknown({"startTimeoutSecondz": 1}, instance["run_monitoring"].config_type, "x") == ["x.startTimeoutSecondz"]  # it does catch typos
    # the chart's own switches, beside what it renders
    assert values["runLauncher"]["type"] == "K8sRunLauncher" and values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert daemon["runMonitoring"]["maxResumeRunAttempts"] > 0  # the K8s launcher can resume a dead run worker
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["codeServerArgs"]
    assert args[args.index("-m") + 1] == "tessera.orchestration.definitions"
    assert deployment["env"]["TESSERA_LAKE_URI"].startswith("s3://") and deployment["env"]["TESSERA_LANDING_ROOT"].startswith("s3://")
