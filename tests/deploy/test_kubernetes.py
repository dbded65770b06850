"""The Kubernetes manifests: valid against the API schemas (offline), and consistent with the
image and the app (probe paths, ports, user, writable paths, settings names)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient

from app.settings import Settings
from app.store import ModelStore
from tests.deploy.dockerfile import ROOT, final_stage

MANIFESTS = ROOT / "deploy" / "kubernetes"
RESOURCE_FILES = sorted(p for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")


def load(name: str) -> dict[str, Any]:
    documents = list(yaml.safe_load_all((MANIFESTS / name).read_text()))
    assert len(documents) == 1, f"{name}: expected one resource"
    document: dict[str, Any] = documents[0]
    return document


def all_resources() -> list[dict[str, Any]]:
    return [doc for path in RESOURCE_FILES for doc in yaml.safe_load_all(path.read_text())]


def by_kind(kind: str) -> dict[str, Any]:
    (resource,) = [r for r in all_resources() if r["kind"] == kind]
    return resource


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = by_kind("Deployment")["spec"]["template"]["spec"]
    return spec


def main_container() -> dict[str, Any]:
    (container,) = pod_spec()["containers"]
    return dict(container)


def env(container: dict[str, Any]) -> dict[str, str]:
    """Literal values; those taken from a Secret show as "<secret>"."""
    return {item["name"]: item.get("value", "<secret>") for item in container.get("env", [])}


@pytest.mark.parametrize("version", ["1.29.0", "1.37.0"])
@pytest.mark.parametrize("path", RESOURCE_FILES, ids=lambda p: p.name)
def test_each_manifest_validates_strictly_against_the_api_schema(path: Path, version: str) -> None:
    for resource in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    broken = load("deployment.yaml")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37.0", strict=True)
    broken = load("deployment.yaml")
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRoot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: unknown fields refused
        kubernetes_validate.validate(broken, "1.37.0", strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = load("kustomization.yaml")
    assert sorted(kustomization["resources"]) == [p.name for p in RESOURCE_FILES]
    images = {image["name"] for image in kustomization["images"]}
    for container in pod_spec()["initContainers"] + pod_spec()["containers"]:
        assert container["image"].split(":")[0] in images


def test_selectors_and_references_match() -> None:
    deployment = by_kind("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert by_kind("Service")["spec"]["selector"].items() <= labels.items()
    assert (
        by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )
    target = by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    port_names = {port["name"] for port in main_container()["ports"]}
    assert {port["targetPort"] for port in by_kind("Service")["spec"]["ports"]} <= port_names
    claims = {
        volume["persistentVolumeClaim"]["claimName"]
        for volume in pod_spec()["volumes"]
        if "persistentVolumeClaim" in volume
    }
    assert claims == {by_kind("PersistentVolumeClaim")["metadata"]["name"]}


def test_the_model_store_is_a_shared_volume() -> None:
    assert by_kind("PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]
    mounts = {m["mountPath"]: m["name"] for m in main_container()["volumeMounts"]}
    assert env(main_container())["FORECAST_MODEL_STORE"] in mounts
    assert mounts[env(main_container())["FORECAST_MODEL_STORE"]] == "model-store"
    replicas = by_kind("Deployment")["spec"]["replicas"]
    hpa = by_kind("HorizontalPodAutoscaler")["spec"]
    assert 2 <= replicas <= hpa["maxReplicas"]
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]


def test_probes_hit_the_apps_health_routes_on_the_images_port(client: TestClient) -> None:
    container = main_container()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert client.get(container[probe]["httpGet"]["path"]).status_code == 200
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == 8000
    assert final_stage().values("EXPOSE") == ["8000"]


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root() -> None:
    spec = pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True
    user = final_stage().values("USER")[-1].split(":")[0]
    assert str(spec["securityContext"]["runAsUser"]) == user != "0"
    assert spec["automountServiceAccountToken"] is False
    for container in spec["initContainers"] + spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
    # The only writable places: the model store and /tmp (trainings need a temp directory).
    writable = {m["mountPath"] for m in main_container()["volumeMounts"]}
    assert writable == {"/model_store", "/tmp"}


def test_every_container_has_requests_and_limits() -> None:
    for container in pod_spec()["initContainers"] + pod_spec()["containers"]:
        resources = container["resources"]
        assert set(resources) == {"requests", "limits"}
        for key in ("cpu", "memory"):
            assert key in resources["requests"]
            assert key in resources["limits"]
    assert (
        "averageUtilization"
        in by_kind("HorizontalPodAutoscaler")["spec"]["metrics"][0]["resource"]["target"]
    )


def test_environment_names_are_real_settings() -> None:
    fields = {f"FORECAST_{name.upper()}" for name in Settings.model_fields}
    names = set(env(main_container()))
    assert {n for n in names if n.startswith("FORECAST_")} <= fields
    assert {n for n in names if not n.startswith("FORECAST_")} <= {
        "UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN"
    }


def test_the_api_key_comes_from_an_optional_secret() -> None:
    (item,) = [e for e in main_container()["env"] if e["name"] == "FORECAST_API_KEY"]
    assert "value" not in item
    assert item["valueFrom"]["secretKeyRef"]["optional"] is True


def test_the_grace_period_covers_a_training_and_uvicorns_shutdown() -> None:
    container = main_container()
    grace = pod_spec()["terminationGracePeriodSeconds"]
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    uvicorn_limit = int(env(container)["UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN"])
    assert Settings().max_training_seconds < uvicorn_limit
    assert pre_stop + uvicorn_limit < grace


# ----- the init container that seeds an empty shared volume ----------------------------------


def seed_script(shared: Path, image_store: Path) -> str:
    (init,) = pod_spec()["initContainers"]
    assert init["command"][:2] == ["sh", "-c"]
    mount = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}["model-store"]
    script = init["command"][2].replace("/model_store/", f"{image_store}/")
    return re.sub(re.escape(mount) + r"\b", str(shared), script)


needs_flock = pytest.mark.skipif(shutil.which("flock") is None, reason="needs util-linux flock")


@needs_flock
def test_the_init_container_seeds_an_empty_store(tmp_path: Path, trained_store: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    run = subprocess.run(
        ["sh", "-c", seed_script(shared, trained_store)],
        capture_output=True,
        text=True,
        check=True,
        env={"HOSTNAME": "pod-a", "PATH": "/usr/bin:/bin"},
    )
    assert "seeded" in run.stdout
    store = ModelStore(shared)
    assert store.load_all() == ["default"]
    served = store.get("default")
    assert served.version == ModelStore(trained_store).get("default").version
    assert sorted(p.name for p in shared.iterdir()) == [".locks", "default"]  # no temp left


@needs_flock
def test_the_init_container_keeps_an_existing_default(tmp_path: Path, trained_store: Path) -> None:
    shared = tmp_path / "shared"
    shutil.copytree(trained_store, shared)
    marker = shared / "default" / "CURRENT"
    marker.write_text("7\n")  # a retrained default (the text is what must survive)
    subprocess.run(["sh", "-c", seed_script(shared, trained_store)], check=True)
    assert marker.read_text() == "7\n"


@needs_flock
def test_the_init_container_leaves_the_store_to_a_pod_training_default(
    tmp_path: Path, trained_store: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    with ModelStore(shared).training_lock("default"):  # a running pod is training it
        subprocess.run(["sh", "-c", seed_script(shared, trained_store)], check=True)
    assert not (shared / "default").exists()
