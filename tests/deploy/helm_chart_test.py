#!/usr/bin/env python3
"""The Helm chart (deploy/helm/amlrisk) checked offline: helm lint, helm template
with default and non-default values, bad values refused with a clear message,
asserted content of the rendered manifests, and a schema check of every rendered
Kubernetes object (kubernetes-validate, strict, bundled schemas: no cluster)."""
import os
import re
import subprocess
import sys
import tempfile

import yaml
import kubernetes_validate

SRC = os.environ["AMLRISK_SOURCE_DIR"]
HELM = os.environ["AMLRISK_HELM"]
K8S_VERSION = os.environ.get("AMLRISK_K8S_VERSION", "1.37.0")
CHART = os.path.join(SRC, "deploy", "helm", "amlrisk")
URL = "postgresql://amlrisk:pw@postgres:5432/amlrisk"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def helm(*args, ok=True):
    p = subprocess.run([HELM, *args], capture_output=True, text=True,
                       env={**os.environ, "HELM_CACHE_HOME": tmp, "HELM_CONFIG_HOME": tmp,
                            "HELM_DATA_HOME": tmp})
    if ok and p.returncode != 0:
        sys.exit(f"helm {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def render(*sets, values=None):
    args = ["template", "rel", CHART, "--namespace", "aml"]
    if values:
        args += ["-f", values]
    for s in sets:
        args += ["--set", s]
    docs = [d for d in yaml.safe_load_all(helm(*args).stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}, docs


def container(obj):
    return obj["spec"]["template"]["spec"]["containers"][0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def schema_check(docs, label):
    n = 0
    for d in docs:
        if d["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: no schema bundled; its fields are asserted below
        try:
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)
            n += 1
        except Exception as e:  # ValidationError, InvalidSchemaError
            check(False, f"{label}: {d['kind']}/{d['metadata']['name']} invalid: {e}")
    print(f"{label}: {n} objects valid against Kubernetes {K8S_VERSION} (strict)")
    return n


def secure(c, name):
    sc = c["securityContext"]
    check(sc["readOnlyRootFilesystem"] is True, f"{name}: read-only root fs")
    check(sc["allowPrivilegeEscalation"] is False, f"{name}: no privilege escalation")
    check(sc["capabilities"]["drop"] == ["ALL"], f"{name}: capabilities dropped")


tmp = tempfile.mkdtemp(prefix="amlrisk-helm-")

# 1. lint, with and without the one required value
p = helm("lint", "--strict", CHART, "--set", "database.url=" + URL)
print(p.stdout.strip())
# (lint lets `required` pass; a render without database.url must stop)
p = helm("template", "rel", CHART, ok=False)
check(p.returncode != 0 and "set database.url (DATABASE_URL)" in p.stderr,
      "a render without database.url stops naming it")

# 2. defaults (plus database.url): what the brief promises
objs, docs = render("database.url=" + URL)
kinds = sorted({k for k, _ in objs})
print("default render:", kinds)
check(kinds == ["ConfigMap", "Deployment", "Job", "Secret", "Service", "StatefulSet"],
      f"default kinds {kinds}")
check(not any(k == "ServiceMonitor" for k, _ in objs), "no ServiceMonitor by default")
core = objs[("StatefulSet", "rel-amlrisk-core")]
cons = objs[("Deployment", "rel-amlrisk-consumer")]
gw = objs[("Deployment", "rel-amlrisk-gateway")]
job = objs[("Job", "rel-amlrisk-migrate")]
sec = objs[("Secret", "rel-amlrisk-secrets")]
cm = objs[("ConfigMap", "rel-amlrisk-config")]["data"]

check(core["spec"]["replicas"] == 2, "core: 2 instances by default (one elected writer)")
check(core["spec"]["serviceName"] == "rel-amlrisk-core-peers", "core: governing Service")
check(core["spec"]["podManagementPolicy"] == "Parallel", "core: instances start together")
peers = objs[("Service", "rel-amlrisk-core-peers")]["spec"]
check(peers["clusterIP"] == "None" and peers["publishNotReadyAddresses"] is True,
      "core peers: headless, names published before ready")
check(objs[("Service", "rel-amlrisk-core")]["spec"]["type"] == "ClusterIP",
      "core: one Service address for amlctl")
cenv = env_of(container(core))
check(cenv["CORE_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name",
      "core: CORE_INSTANCE_ID from the pod name")
check(cenv["ELECTION_POLL_MS"]["value"] == "500" and cenv["FOLLOW_MS"]["value"] == "1000",
      "core: election settings")
check(cons["spec"]["replicas"] == 4, "consumer replicas = kafka.partitions (4)")
ce = env_of(container(cons))
check(ce["CONSUMER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name",
      "consumer: CONSUMER_ID from the pod name")
check(container(cons)["command"] == ["amlrisk-consumer"], "consumer command")
g = container(gw)
check(g["readinessProbe"]["httpGet"]["path"] == "/ready", "gateway readiness on /ready")
check(g["livenessProbe"]["httpGet"]["path"] == "/health", "gateway liveness on /health")
check(g["readinessProbe"]["timeoutSeconds"] == 1, "gateway readiness timeout 1 s")
check(g["readinessProbe"]["httpGet"]["port"] == "http" and g["ports"][0]["containerPort"] == 8000,
      "gateway probes its http port 8000")
check(cm["HTTP_LISTEN"] == "0.0.0.0:8000", "gateway listens on every address")
check(cm["RPC_URL"] == "tcp://rel-amlrisk-core-0.rel-amlrisk-core-peers:57100,"
      "tcp://rel-amlrisk-core-1.rel-amlrisk-core-peers:57100", "gateway lists every core instance")
check(cm["RPC_LISTEN"] == "tcp://0.0.0.0:57100", "core listens on its pod address")
check(cm["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092" and cm["SCORING_MODEL"] == "hop_exposure/v1",
      "ConfigMap defaults")
for name, d in (("core", core), ("gateway", gw)):
    c = container(d)
    e = env_of(c)
    check(e["RPC_SECRET_FILE"]["value"] == "/etc/amlrisk/rpc/rpc-secret", f"{name}: RPC_SECRET_FILE")
    check("RPC_SECRET" not in e, f"{name}: the secret never as a variable")
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    check(mounts["rpc-secret"]["mountPath"] == "/etc/amlrisk/rpc" and mounts["rpc-secret"]["readOnly"],
          f"{name}: secret mounted read-only")
    vols = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
    check(vols["rpc-secret"]["secret"]["secretName"] == "rel-amlrisk-secrets", f"{name}: secret volume")
ge = env_of(g)
check(ge["AML_API_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True, "AML_API_TOKEN optional")
check(ge["AML_READ_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "read-token", "AML_READ_TOKEN key")
import base64
rpc = base64.b64decode(sec["data"]["rpc-secret"]).decode()
check(re.fullmatch(r"[A-Za-z0-9]{64}\n", rpc) is not None, "generated RPC secret: 64 characters")
check(base64.b64decode(sec["data"]["database-url"]).decode() == URL, "DATABASE_URL in the Secret")
check("api-token" not in sec["data"], "no api-token unless given")
check(sec["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10", "Secret before the Job")
check(job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade", "migrate hook")
check(container(job)["command"] == ["amlrisk-migrate"], "migrate runs amlrisk-migrate")
check(env_of(container(job))["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url",
      "migrate: DATABASE_URL from the Secret")
for name, d in (("core", core), ("consumer", cons), ("gateway", gw), ("migrate", job)):
    ps = d["spec"]["template"]["spec"]["securityContext"]
    check(ps["runAsNonRoot"] is True and ps["runAsUser"] == 10001, f"{name}: non-root 10001")
    secure(container(d), name)
    r = container(d)["resources"]["requests"]
    check("cpu" in r and "memory" in r, f"{name}: requests")
check(container(core)["resources"]["requests"]["memory"] == "640Mi", "core request from PERFORMANCE.md")
n_default = schema_check(docs, "default")

# 3. every binary run is one the Dockerfile builds and ships; every variable set is documented
dockerfile = open(os.path.join(SRC, "Dockerfile")).read()
readme = open(os.path.join(SRC, "README.md")).read()
for d in (core, cons, gw, job):
    b = container(d)["command"][0]
    check(re.search(r"/build/bin/" + re.escape(b) + r"\b", dockerfile) is not None,
          f"{b} shipped by the Dockerfile")
names = set(cm) | {n for d in (core, cons, gw, job) for n in env_of(container(d))}
for n in sorted(names):
    check(f"`{n}`" in readme, f"{n} documented in README.md")
check("USER amlrisk" in dockerfile and "--uid 10001" in dockerfile, "the image's user is 10001")

# 4. non-default values
vals = os.path.join(SRC, "tests", "deploy", "values-custom.yaml")
objs, docs = render(values=vals)
cons = objs[("StatefulSet", "rel-amlrisk-consumer")]
check(cons["spec"]["replicas"] == 8, "consumer replicas = 8 partitions")
check(cons["spec"]["serviceName"] == "rel-amlrisk-consumer", "StatefulSet governing Service")
check(("Service", "rel-amlrisk-consumer") in objs, "consumer headless Service")
check(not any(k == "Secret" for k, _ in objs), "existingSecret: no Secret created")
gw = objs[("Deployment", "rel-amlrisk-gateway")]
check(gw["spec"]["replicas"] == 3, "gateway replicas")
check(gw["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "my-secrets",
      "gateway uses existingSecret")
core = objs[("StatefulSet", "rel-amlrisk-core")]
ce = env_of(container(core))
check(ce["METRICS_LISTEN"]["value"] == "0.0.0.0:9101", "core metrics port on")
check(ce["RUN_RETENTION_KEEP"]["value"] == "5", "core extraEnv")
check({p["name"]: p["containerPort"] for p in container(core)["ports"]}["metrics"] == 9101,
      "core metrics containerPort")
check(objs[("ConfigMap", "rel-amlrisk-config")]["data"]["SCORING_MODEL"] == "flow_exposure/v1",
      "SCORING_MODEL set")
sms = {n: d for (k, n), d in objs.items() if k == "ServiceMonitor"}
check(sorted(sms) == ["rel-amlrisk-consumer", "rel-amlrisk-core", "rel-amlrisk-gateway"],
      f"three ServiceMonitors: {sorted(sms)}")
check(sms["rel-amlrisk-gateway"]["spec"]["endpoints"][0]["port"] == "http" and
      sms["rel-amlrisk-core"]["spec"]["endpoints"][0]["port"] == "metrics", "ServiceMonitor ports")
check(sms["rel-amlrisk-core"]["metadata"]["labels"]["release"] == "prom", "ServiceMonitor labels")
check(("Job", "rel-amlrisk-migrate") not in objs, "migrate.enabled=false")
n_custom = schema_check(docs, "custom")
p = helm("lint", "--strict", CHART, "-f", vals)
check(p.returncode == 0, "lint of the custom values")

# 5. bad values are refused by name
# (values.schema.json refuses wrong types, unknown keys, no core or more than a
# gateway can list, a bad election setting)
for s, msg in (("consumer.kind=DaemonSet", "at '/consumer/kind': value must be one of"),
               ("core.replicas=17", "at '/core/replicas': maximum: got 17, want 16"),
               ("core.replicas=0", "at '/core/replicas': minimum: got 0, want 1"),
               ("core.electionPollMs=5", "at '/core/electionPollMs': minimum: got 5, want 100"),
               ("databse.url=typo", "additional properties 'databse' not allowed"),
               ("gateway.readinessProbe.path=ready", "at '/gateway/readinessProbe/path'"),
               ("secrets.rpcSecret=short", "16 to 256 bytes")):
    p = helm("template", "rel", CHART, "--set", "database.url=" + URL, "--set", s, ok=False)
    check(p.returncode != 0 and msg in p.stderr, f"{s} refused with '{msg}'")

# 5b. several cores: the gateway lists each, every one schema-valid
objs3, docs3 = render("database.url=" + URL, "core.replicas=3")
urls = objs3[("ConfigMap", "rel-amlrisk-config")]["data"]["RPC_URL"].split(",")
check(urls == [f"tcp://rel-amlrisk-core-{i}.rel-amlrisk-core-peers:57100" for i in range(3)],
      f"three core URLs: {urls}")
check(objs3[("StatefulSet", "rel-amlrisk-core")]["spec"]["replicas"] == 3, "core.replicas=3")
n_default += schema_check(docs3, "three cores")

# 6. the schema check itself catches a wrong manifest (it can fail)
bad = dict(gw)
bad["spec"] = {**gw["spec"], "replicas": "three"}
try:
    kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    check(False, "schema check rejects replicas: 'three'")
except kubernetes_validate.ValidationError:
    pass

print(f"{n_default + n_custom} objects schema-checked; {len(failures)} failures")
sys.exit(1 if failures else 0)
