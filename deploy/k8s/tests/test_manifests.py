"""The Kubernetes manifests, checked offline: Kubernetes' own schemas (kubernetes-validate, strict),
the operators' CRD schemas (vendored in deploy/schemas), and the rules every process must follow.

kubectl and kustomize are not needed: `resolve` reads each kustomization itself (resources,
configMapGenerator, namespace, labels) and refuses any field it does not understand, so what is
checked here is what `kubectl apply -k` would send, less the generated names' hash suffixes.
These manifests were never applied to a cluster by these tests.
"""

from __future__ import annotations

import base64
import copy
import importlib
import inspect
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tdc_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
DATA = K8S / "data"
SCHEMAS = ROOT / "deploy" / "schemas"
ROUTES_SOURCE = ROOT / "deploy" / "traefik" / "dynamic"
INITDB_SOURCE = ROOT / "deploy" / "mysql" / "initdb"

# One recent release kubernetes-validate ships; strict: a field the schema does not know fails.
KUBERNETES_VERSION = "1.33"
NAMESPACE = "dreamers-cave"
SECRET_NAME = "tdc-secrets"
CRD_FILES = {
    ("mysql.oracle.com/v2", "InnoDBCluster"): "mysql-operator-crds.yaml",
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmq-cluster-operator-crd.yaml",
}
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "configMapGenerator"}
GENERATOR_FIELDS = {"name", "files", "envs", "options"}
NAMESPACED_KINDS_EXEMPT = {"Namespace"}
TMP = "/tmp"  # noqa: S108 - a mount path the manifests must give an emptyDir, not a file opened here


# -- resolving a kustomization ---------------------------------------------------------------


def kustomization(folder: Path) -> dict[str, Any]:
    data = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert isinstance(data, dict)
    unknown = set(data) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{folder}/kustomization.yaml: fields this resolver does not apply: {sorted(unknown)}"
    return data


def parse_env_file(text: str) -> dict[str, str]:
    """Kustomize's `envs` format: KEY=VALUE per line, `#` comments and blank lines ignored."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f"line {number}: {line!r} has no '=' (kustomize would read the value from its own environment)"
        assert key not in values, f"line {number}: {key} set twice"
        values[key] = value
    return values


def generated_config_maps(folder: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    maps = []
    for generator in data.get("configMapGenerator", []):
        unknown = set(generator) - GENERATOR_FIELDS
        assert not unknown, f"configMapGenerator {generator.get('name')}: fields not understood: {sorted(unknown)}"
        contents: dict[str, str] = {}
        for name in generator.get("files", []):
            contents[Path(name).name] = (folder / name).read_text()
        for name in generator.get("envs", []):
            contents.update(parse_env_file((folder / name).read_text()))
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": contents,
            }
        )
    return maps


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        template: dict[str, Any] = obj["spec"]["template"]
        return template
    return None


def resolve(folder: Path) -> list[dict[str, Any]]:
    """The objects `kubectl apply -k folder` would create, in order."""
    data = kustomization(folder)
    objects: list[dict[str, Any]] = []
    for name in data.get("resources", []):
        path = folder / name
        assert path.is_file(), f"{folder.name}/kustomization.yaml lists {name}, which is not a file here"
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None)
    objects.extend(generated_config_maps(folder, data))
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if "namespace" in data and obj["kind"] not in NAMESPACED_KINDS_EXEMPT:
            meta["namespace"] = data["namespace"]
        for label in data.get("labels", []):
            assert not label.get("includeSelectors", False), "selectors must stay as written (immutable once applied)"
            meta.setdefault("labels", {}).update(label["pairs"])
            template = pod_template(obj)
            if label.get("includeTemplates") and template is not None:
                template.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    return objects


def listed_files(folder: Path) -> set[str]:
    data = kustomization(folder)
    names = set(data.get("resources", []))
    for generator in data.get("configMapGenerator", []):
        names.update(generator.get("files", []))
        names.update(generator.get("envs", []))
    return names


def unlisted_files(folder: Path) -> set[str]:
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    return present - listed_files(folder) - {"kustomization.yaml"}


BASE_OBJECTS = resolve(BASE)
DATA_OBJECTS = resolve(DATA)
ALL_OBJECTS = BASE_OBJECTS + DATA_OBJECTS


def of_kind(kind: str, objects: list[dict[str, Any]] = BASE_OBJECTS) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def object_id(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def process_names() -> list[str]:
    services = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
    assert services, "no service folders found"
    return ["gateway", *services]


PROCESSES = process_names()
CONFIG: dict[str, str] = of_kind("ConfigMap")["tdc-config"]["data"]


# -- schemas ---------------------------------------------------------------------------------


def is_custom(obj: dict[str, Any]) -> bool:
    return (obj["apiVersion"], obj["kind"]) in CRD_FILES


def strict(schema: Any, *, top: bool = True) -> Any:
    """A CRD schema that refuses unknown fields, as the API server does with strict field validation.

    Objects that list properties get additionalProperties: false unless they say otherwise or
    keep unknown fields (x-kubernetes-preserve-unknown-fields). The top-level metadata is left
    to ObjectMeta (checked by `metadata_problems`).
    """
    if isinstance(schema, list):
        return [strict(item, top=False) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value, top=False) for key, value in schema.items() if key != "properties"}
    if "properties" in schema:
        props = {name: strict(value, top=False) for name, value in schema["properties"].items()}
        if top:
            # Every object has these; some CRDs (the MySQL one) leave them out of their schema.
            props.update({"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}})
        out["properties"] = props
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    path = SCHEMAS / CRD_FILES[(api_version, kind)]
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        if spec["group"] != group or spec["names"]["kind"] != kind:
            continue
        for entry in spec["versions"]:
            if entry["name"] == version and entry["served"]:
                schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
                return schema
    raise AssertionError(f"{path.name} has no served {kind} {api_version}")


def metadata_problems(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata", {})
    problems = [f"metadata.{k} is not allowed here" for k in set(meta) - {"name", "namespace", "labels", "annotations"}]
    max_length = schema.get("properties", {}).get("metadata", {}).get("properties", {}).get("name", {}).get("maxLength")
    if max_length is not None and len(meta.get("name", "")) > max_length:
        problems.append(f"metadata.name longer than {max_length}")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta.get("name", "")):
        problems.append("metadata.name is not a DNS label")
    return problems


def validate_custom(obj: dict[str, Any]) -> None:
    schema = crd_schema(obj["apiVersion"], obj["kind"])
    problems = metadata_problems(obj, schema)
    assert not problems, f"{object_id(obj)}: {problems}"
    jsonschema.Draft4Validator(strict(schema)).validate(obj)


def validate(obj: dict[str, Any]) -> None:
    if is_custom(obj):
        validate_custom(obj)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("obj", ALL_OBJECTS, ids=object_id)
def test_every_object_validates_against_its_schema(obj: dict[str, Any]) -> None:
    validate(obj)


def test_custom_resources_are_the_operators_own() -> None:
    custom = {(o["apiVersion"], o["kind"]) for o in DATA_OBJECTS if is_custom(o)}
    assert custom == set(CRD_FILES), "the data tier runs on InnoDBCluster and RabbitmqCluster, validated by CRD"
    kinds = {o["kind"] for o in ALL_OBJECTS}
    assert "StatefulSet" not in kinds, "MySQL and RabbitMQ come from their operators, not home-made StatefulSets"


# -- the validators refuse broken manifests --------------------------------------------------


def first(kind: str, objects: list[dict[str, Any]] = BASE_OBJECTS) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in objects if o["kind"] == kind))


def test_kubernetes_schema_refuses_an_unknown_field() -> None:
    broken = first("Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_kubernetes_schema_refuses_a_wrong_type() -> None:
    broken = first("Service")
    broken["spec"]["ports"][0]["port"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_crd_schema_refuses_an_unknown_field() -> None:
    broken = first("RabbitmqCluster", DATA_OBJECTS)
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_crd_schema_refuses_a_missing_required_field_and_bad_values() -> None:
    broken = first("InnoDBCluster", DATA_OBJECTS)
    del broken["spec"]["secretName"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    too_many = first("InnoDBCluster", DATA_OBJECTS)
    too_many["spec"]["instances"] = 10
    with pytest.raises(jsonschema.ValidationError):
        validate(too_many)
    nested_typo = first("InnoDBCluster", DATA_OBJECTS)
    nested_typo["spec"]["router"]["instance"] = nested_typo["spec"]["router"].pop("instances")
    with pytest.raises(jsonschema.ValidationError):
        validate(nested_typo)
    long_name = first("InnoDBCluster", DATA_OBJECTS)
    long_name["metadata"]["name"] = "x" * 41
    with pytest.raises(AssertionError, match="longer than 40"):
        validate(long_name)


def test_crd_schema_still_takes_fields_the_operator_keeps_unread() -> None:
    # podSpec preserves unknown fields: strictness must not reach inside it.
    cluster = first("InnoDBCluster", DATA_OBJECTS)
    cluster["spec"]["podSpec"]["priorityClassName"] = "high"
    validate(cluster)


def test_deployment_rules_refuse_a_missing_probe_and_a_writable_root() -> None:
    broken = first("Deployment")
    container = broken["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    problems = deployment_problems(broken)
    assert any("readinessProbe" in p for p in problems)
    assert any("readOnlyRootFilesystem" in p for p in problems)
    validate(broken)  # still a valid Deployment: only our rules catch it


def test_kustomization_check_sees_a_forgotten_file(tmp_path: Path) -> None:
    copy_dir = tmp_path / "base"
    for path in BASE.rglob("*"):
        if path.is_file():
            target = copy_dir / path.relative_to(BASE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    assert unlisted_files(copy_dir) == set()
    (copy_dir / "forgotten.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert unlisted_files(copy_dir) == {"forgotten.yaml"}


# -- kustomizations --------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [BASE, DATA], ids=lambda p: p.name)
def test_kustomization_lists_every_file(folder: Path) -> None:
    assert unlisted_files(folder) == set(), f"{folder.name}/ holds files its kustomization.yaml does not list"


@pytest.mark.parametrize("folder", [BASE, DATA], ids=lambda p: p.name)
def test_names_are_unique(folder: Path) -> None:
    ids = [object_id(o) for o in resolve(folder)]
    assert len(ids) == len(set(ids))


def test_both_kustomizations_share_one_namespace() -> None:
    assert (BASE / "namespace.yaml").read_bytes() == (DATA / "namespace.yaml").read_bytes()
    for folder in (BASE, DATA):
        assert kustomization(folder)["namespace"] == NAMESPACE
    assert of_kind("Namespace") == {NAMESPACE: of_kind("Namespace")[NAMESPACE]}


def test_routing_table_copy_is_identical_to_deploy_traefik_dynamic() -> None:
    source = {p.name: p.read_bytes() for p in ROUTES_SOURCE.iterdir() if p.is_file()}
    copy_ = {p.name: p.read_bytes() for p in (BASE / "routes").iterdir() if p.is_file()}
    assert sorted(copy_) == sorted(source), "base/routes must hold exactly the files of deploy/traefik/dynamic"
    for name, content in source.items():
        assert copy_[name] == content, f"base/routes/{name} differs from deploy/traefik/dynamic/{name}: copy it again"


def test_account_script_copy_is_identical_to_deploy_mysql_initdb() -> None:
    source = {p.name: p.read_bytes() for p in INITDB_SOURCE.iterdir() if p.is_file()}
    copy_ = {p.name: p.read_bytes() for p in (DATA / "initdb").iterdir() if p.is_file()}
    assert copy_ == source, "data/initdb must be a byte-identical copy of deploy/mysql/initdb"


# -- every process: Deployment, Service, PDB --------------------------------------------------


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return result


def deployment_problems(deployment: dict[str, Any]) -> list[str]:
    """What a Deployment of ours must have; an empty list when it has all of it."""
    problems: list[str] = []
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    if spec.get("replicas") != 2:
        problems.append("replicas must be 2")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken must be false")
    pod_security = pod.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True or not pod_security.get("runAsUser"):
        problems.append("pod securityContext needs runAsNonRoot: true and a runAsUser")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in pod["containers"]:
        name = container["name"]
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = container.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") != "http":
                problems.append(f"{name}: {probe} must GET {path} on the http port")
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(bound, {})):
                problems.append(f"{name}: resources.{bound} needs cpu and memory")
        security = container.get("securityContext", {})
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem must be true")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities must drop ALL")
        if security.get("runAsNonRoot") is False:
            problems.append(f"{name}: must not run as root")
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == TMP]
        if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.append(f"{name}: /tmp must be an emptyDir (the root filesystem is read-only)")
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        if ports.get("http") != 8000:
            problems.append(f"{name}: the http port must be 8000, as the image's uvicorn listens")
        if ports.get("metrics") != int(CONFIG["TDC_METRICS_PORT"]):
            problems.append(f"{name}: a container port named metrics must be TDC_METRICS_PORT")
    return problems


def test_every_process_has_a_deployment() -> None:
    assert sorted(of_kind("Deployment")) == sorted(PROCESSES), "one Deployment per service folder, and the gateway"


@pytest.mark.parametrize("name", PROCESSES)
def test_deployment_follows_the_rules(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    assert deployment_problems(deployment) == []
    image = containers(deployment)[0]["image"]
    assert image == f"tdc-{name}", "images are named after the workspace package (set the registry in an overlay)"


def selects(selector: dict[str, str], deployment: dict[str, Any]) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("name", PROCESSES)
def test_deployment_has_a_service_and_a_disruption_budget(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    service = of_kind("Service")[name]
    assert selects(service["spec"]["selector"], deployment)
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["http"]["port"] == 8000 and ports["http"]["targetPort"] == "http"
    assert ports["metrics"]["targetPort"] == "metrics"
    budget = of_kind("PodDisruptionBudget")[name]
    assert budget["spec"] == {"minAvailable": 1, "selector": {"matchLabels": service["spec"]["selector"]}}
    assert selects(budget["spec"]["selector"]["matchLabels"], deployment)


@pytest.mark.parametrize("name", ["gateway", "catalog"])
def test_gateway_and_catalog_scale_horizontally(name: str) -> None:
    hpa = of_kind("HorizontalPodAutoscaler")[name]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert hpa["spec"]["minReplicas"] >= of_kind("Deployment")[name]["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    assert set(of_kind("HorizontalPodAutoscaler")) == {"gateway", "catalog"}


# -- the routing table runs unchanged ----------------------------------------------------------


def table_urls() -> Iterator[str]:
    documents = [yaml.safe_load(p.read_text()) for p in sorted((BASE / "routes").glob("*.yml"))]
    for doc in documents:
        http = doc.get("http", {})
        for service in http.get("services", {}).values():
            for server in service.get("loadBalancer", {}).get("servers", []):
                yield server["url"]
        for middleware in http.get("middlewares", {}).values():
            if "forwardAuth" in middleware:
                yield middleware["forwardAuth"]["address"]


def resolves_to_service(url: str) -> bool:
    parts = urlsplit(url)
    service = of_kind("Service").get(parts.hostname or "")
    if service is None:
        return False
    port = next((p for p in service["spec"]["ports"] if p["port"] == parts.port), None)
    if port is None:
        return False
    deployment = of_kind("Deployment").get(service["metadata"]["name"])
    if deployment is None or not selects(service["spec"]["selector"], deployment):
        return False
    return any(p.get("name") == port["targetPort"] for c in containers(deployment) for p in c.get("ports", []))


def test_every_server_of_the_routing_table_is_a_service_with_that_port() -> None:
    urls = sorted(set(table_urls()))
    assert len(urls) >= len(PROCESSES), urls
    unresolved = [url for url in urls if not resolves_to_service(url)]
    assert unresolved == []
    assert not resolves_to_service("http://catalog:8001"), "the check itself must see a wrong port"
    assert not resolves_to_service("http://ticketing:8000"), "... and a host with no Service"


def test_in_cluster_addresses_resolve_to_services() -> None:
    assert resolves_to_service(CONFIG["TDC_JWKS_URL"])


def test_gateway_reads_the_table_where_it_is_mounted() -> None:
    gateway = of_kind("Deployment")["gateway"]
    container = containers(gateway)[0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    volumes = {v["name"]: v for v in gateway["spec"]["template"]["spec"]["volumes"]}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == env["TDC_GATEWAY_ROUTES_DIR"])
    assert mount.get("readOnly") is True
    routes = of_kind("ConfigMap")[volumes[mount["name"]]["configMap"]["name"]]
    assert sorted(routes["data"]) == sorted(p.name for p in ROUTES_SOURCE.glob("*.yml"))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert env["TDC_GATEWAY_ROUTES_DIR"] == compose["services"]["gateway"]["environment"]["TDC_GATEWAY_ROUTES_DIR"]


def test_ingress_reaches_the_gateway_only_over_tls() -> None:
    ingresses = list(of_kind("Ingress").values())
    assert len(ingresses) == 1
    spec = ingresses[0]["spec"]
    backends = [path["backend"]["service"] for rule in spec["rules"] for path in rule["http"]["paths"]]
    assert backends and all(b == {"name": "gateway", "port": {"name": "http"}} for b in backends)
    assert "defaultBackend" not in spec
    hosts = {rule["host"] for rule in spec["rules"]}
    assert spec["tls"] and all(t.get("secretName") for t in spec["tls"])
    assert hosts <= {h for t in spec["tls"] for h in t["hosts"]}
    assert CONFIG["TDC_AUTH_PUBLIC_URL"] == f"https://{sorted(hosts)[0]}", "OAuth callbacks use the public host"


def test_metrics_listen_for_the_cluster_but_only_on_their_own_port() -> None:
    assert CONFIG["TDC_METRICS_HOST"] == "0.0.0.0", "127.0.0.1 would hide them from Prometheus"
    assert int(CONFIG["TDC_METRICS_PORT"]) not in (0, 8000)


def test_services_take_http_from_the_gateway_only() -> None:
    policy = of_kind("NetworkPolicy")["services-from-gateway"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    services = [d for n, d in of_kind("Deployment").items() if n != "gateway"]
    assert all(selects(selector, d) for d in services)
    assert not selects(selector, of_kind("Deployment")["gateway"])
    http_rules = [r for r in policy["spec"]["ingress"] if {"port": "http"} in r["ports"]]
    assert len(http_rules) == 1
    peers = http_rules[0]["from"]
    assert peers and all(selects(p["podSelector"]["matchLabels"], of_kind("Deployment")["gateway"]) for p in peers)
    assert all(set(p) == {"podSelector"} for p in peers), "pods of this namespace only, not of any namespace"
    jwks = of_kind("NetworkPolicy")["auth-jwks-from-every-process"]["spec"]["ingress"][0]["from"][0]
    assert all(selects(jwks["podSelector"]["matchLabels"], d) for d in of_kind("Deployment").values())


# -- volumes, as compose mounts them ---------------------------------------------------------


def mounts(name: str) -> dict[str, dict[str, Any]]:
    """Mount path -> the volume mounted there, for the process `name`."""
    deployment = of_kind("Deployment")[name]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    return {m["mountPath"]: volumes[m["name"]] for m in containers(deployment)[0]["volumeMounts"]}


def test_compose_volumes_have_their_kubernetes_counterparts() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    named = set(compose.get("volumes", {}))
    claims = of_kind("PersistentVolumeClaim")
    checked = 0
    for name in PROCESSES:
        for entry in compose["services"][name].get("volumes", []):
            parts = entry.split(":")
            if parts[-1] in ("ro", "rw"):
                parts.pop()
            source, target = ":".join(parts[:-1]), parts[-1]
            volume = mounts(name).get(target)
            assert volume is not None, f"{name}: compose mounts {target}, the Deployment does not"
            if source in named:
                # Shared by every replica: a ReadWriteMany claim.
                claim = claims[volume["persistentVolumeClaim"]["claimName"]]
                assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
            else:
                # A host folder of secrets or configuration in compose: a Secret or the ConfigMap here.
                assert "secret" in volume or "configMap" in volume, f"{name}: {target}"
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    ("name", "variable"), [("catalog", "TDC_CATALOG_MEDIA_DIR"), ("membership", "TDC_MEMBERSHIP_FILES_DIR")]
)
def test_media_live_on_a_shared_claim(name: str, variable: str) -> None:
    env = {e["name"]: e.get("value") for e in containers(of_kind("Deployment")[name])[0]["env"]}
    volume = mounts(name)[env[variable]]
    claim = of_kind("PersistentVolumeClaim")[volume["persistentVolumeClaim"]["claimName"]]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


# -- secrets by reference only, and the settings they complete ------------------------------------


def secret_refs(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    refs = set()
    for obj in objects:
        template = pod_template(obj)
        if template is None:
            continue
        for container in template["spec"]["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
    return refs


def test_no_secret_value_in_the_repository() -> None:
    assert not [o for o in ALL_OBJECTS if o["kind"] == "Secret"], "Secrets are created in the cluster, never here"
    secretish = re.compile(r"SECRET|PASSWORD|PASS\b|TOKEN|_KEY$|SMTP_URL|AMQP_URL")
    assert not [k for k in CONFIG if secretish.search(k)], "tdc-config is not the place for secrets"
    for obj in ALL_OBJECTS:
        template = pod_template(obj)
        if template is None:
            continue
        for container in template["spec"]["containers"]:
            for env in container.get("env", []):
                value = env.get("value")
                if value is None:
                    continue
                assert not secretish.search(env["name"]), f"{object_id(obj)}: {env['name']} has a literal value"
                if "://" in value and "@" in value:
                    # A URL with credentials only ever carries them by reference: $(VARIABLE).
                    userinfo = urlsplit(value).netloc.rpartition("@")[0]
                    password = userinfo.partition(":")[2]
                    assert password in ("", *(f"$({e['name']})" for e in container["env"])), value


def test_readme_lists_every_secret_key() -> None:
    readme = (K8S / "README.md").read_text()
    keys = {key for name, key in secret_refs(ALL_OBJECTS) if name == SECRET_NAME}
    assert len(keys) > 10
    missing = sorted(key for key in keys if f"`{key}`" not in readme)
    assert missing == [], "deploy/k8s/README.md must list every key of tdc-secrets"
    for name, _key in secret_refs(ALL_OBJECTS):
        assert f"`{name}`" in readme, f"the README must say where the Secret {name} comes from"


def placeholder(key: str) -> str:
    if key == "TDC_INTEGRATION_SECRET_KEY":
        return base64.urlsafe_b64encode(b"k" * 32).decode()
    if key == "TDC_NOTIFICATION_SMTP_URL":
        return "smtp+starttls://mailer:pw@smtp.example.com:587"
    if key == "connection_string":
        return "amqp://user:pw@tdc-rabbitmq.dreamers-cave.svc:5672/"
    return "Placeholder-" + key.lower().replace("_", "-")


def environment(name: str) -> dict[str, str]:
    """The environment the process `name` starts with, secrets replaced by placeholders."""
    env = dict(CONFIG)
    for entry in containers(of_kind("Deployment")[name])[0]["env"]:
        if "value" in entry:
            env[entry["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], entry["value"])
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            if not ref.get("optional"):
                env[entry["name"]] = placeholder(ref["key"])
    return env


def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"tdc_{name}.settings")
    classes = [
        c
        for c in vars(module).values()
        if inspect.isclass(c) and issubclass(c, ServiceSettings) and c.__module__ == module.__name__
    ]
    assert len(classes) == 1, classes
    return classes[0]


@pytest.mark.parametrize("name", PROCESSES)
def test_settings_accept_the_environment_in_production(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With TDC_ENV=prod a process refuses every development default: the manifests must set them all."""
    for key in list(os.environ):
        if key.startswith("TDC_"):
            monkeypatch.delenv(key)
    env = environment(name)
    assert env["TDC_ENV"] == "prod"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_class(name)(_env_file=None)  # type: ignore[call-arg]
    assert settings.env == "prod"
    assert settings.metrics_port == int(CONFIG["TDC_METRICS_PORT"])
    if name != "gateway":
        url = urlsplit(settings.mysql_url)
        assert (url.username, url.hostname, url.port) == (f"tdc_{name}", "tdc-mysql", 3306)
        assert "ssl=required" in url.query


# -- the data tier ---------------------------------------------------------------------------


def test_mysql_is_an_innodb_cluster_of_three_behind_a_router() -> None:
    cluster = of_kind("InnoDBCluster", DATA_OBJECTS)["tdc-mysql"]
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["router"]["instances"] >= 2
    assert cluster["spec"]["tlsUseSelfSigned"] is True or cluster["spec"].get("tlsSecretName")
    budget = of_kind("PodDisruptionBudget", DATA_OBJECTS)["tdc-mysql-router"]
    assert budget["spec"]["selector"]["matchLabels"]["mysql.oracle.com/cluster"] == "tdc-mysql"


def test_rabbitmq_is_a_cluster_of_three() -> None:
    cluster = of_kind("RabbitmqCluster", DATA_OBJECTS)["tdc-rabbitmq"]
    assert cluster["spec"]["replicas"] == 3
    anti = cluster["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert of_kind("PodDisruptionBudget", DATA_OBJECTS)["tdc-rabbitmq"]["spec"]["maxUnavailable"] == 1
    # The services' queues are quorum queues: what makes three nodes survive the loss of one.
    topology = (ROOT / "shared" / "tdc_shared" / "events" / "topology.py").read_text()
    assert topology.count('"x-queue-type": "quorum"') == 2


def test_processes_use_the_operators_endpoints() -> None:
    rabbit = next(iter(of_kind("RabbitmqCluster", DATA_OBJECTS)))
    for name in PROCESSES:
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in containers(of_kind("Deployment")[name])[0]["env"]
            if "valueFrom" in e
        }
        assert refs["TDC_AMQP_URL"] == {"name": f"{rabbit}-default-user", "key": "connection_string"}


def test_every_service_gets_its_own_database_account() -> None:
    job = of_kind("Job", DATA_OBJECTS)["tdc-db-accounts"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    services = [n for n in PROCESSES if n != "gateway"]
    assert sorted(env["TDC_DB_SERVICES"]["value"].split()) == sorted(services)
    for name in services:
        variable = f"TDC_{name.upper()}_DB_PASSWORD"
        # The Job and the service read the same key, so the account and the URL cannot disagree.
        assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": SECRET_NAME, "key": variable}
        assert (SECRET_NAME, variable) in secret_refs([of_kind("Deployment")[name]])
    assert env["MYSQL_HOST"]["value"] == next(iter(of_kind("InnoDBCluster", DATA_OBJECTS)))
    cluster = next(iter(of_kind("InnoDBCluster", DATA_OBJECTS).values()))
    assert env["MYSQL_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == cluster["spec"]["secretName"]
    script = of_kind("ConfigMap", DATA_OBJECTS)["tdc-db-accounts"]["data"]["10-service-accounts.sh"]
    assert container["command"] == ["sh", "/initdb/10-service-accounts.sh"]
    assert "MYSQL_PWD" in script and "--user=root" in script
