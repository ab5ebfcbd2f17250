"""On Kubernetes (TESSERA_EXECUTOR=k8s) every step is a pod, and GPU steps ask for GPUs: the pod spec
dagster-k8s builds for `embedded` from its op tag, built here without a cluster."""

from __future__ import annotations

import pytest
from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job, get_user_defined_k8s_config

from tessera.orchestration.definitions import build_definitions
from tessera.resources.params import load_params


def _pod(tags: dict[str, str]):
    config = DagsterK8sJobConfig(job_image="tessera-gpu:latest", dagster_home="/opt/dagster/home", image_pull_policy="IfNotPresent",
                                 instance_config_map="dagster-instance")  # fmt: skip
    job = construct_dagster_k8s_job(config, ["dagster", "api", "execute_step"], "tessera-step", get_user_defined_k8s_config(tags))
    return job.spec.template.spec


def test_the_gpu_step_pod_requests_the_gpus_params_yaml_names() -> None:
    defs = build_definitions()
    step = load_params()["kubernetes"]["gpu_step"]
    pod = _pod(defs.resolve_assets_def("embedded").op.tags)
    resources = pod.containers[0].resources
    assert resources.limits["nvidia.com/gpu"] == resources.requests["nvidia.com/gpu"] == str(step["limits"]["nvidia.com/gpu"])
    assert resources.requests["memory"] == step["requests"]["memory"]
    assert [t.key for t in pod.tolerations] == ["nvidia.com/gpu"]
    for cpu_stage in ("raw", "cleaned", "unified", "aligned", "augmented"):
        tags = defs.resolve_assets_def(cpu_stage).op.tags
        assert "dagster-k8s/config" not in tags
        assert "nvidia.com/gpu" not in (_pod(tags).containers[0].resources.limits or {})


@pytest.mark.parametrize(("value", "name"), [("k8s", "k8s"), ("multiprocess", "multiprocess")])
def test_the_executor_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, name: str) -> None:
    monkeypatch.setenv("TESSERA_EXECUTOR", value)
    assert build_definitions().resolve_job_def("pipeline").executor_def.name.startswith(name)
