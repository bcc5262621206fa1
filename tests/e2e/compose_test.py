#!/usr/bin/python3
"""compose_test.py - holds docker-compose.yml and the Dockerfile to the binaries.
No Docker engine runs here, so this is how the compose deployment is checked:
`docker-compose config` must accept the file; every amlrisk binary compose runs
must be built and shipped by the Dockerfile; every flag and environment variable
compose gives a binary must appear in that binary's --help; the Kafka image must
be the release scripts/kafka/pom.xml pins; PostgreSQL must be 16."""
import os
import re
import subprocess
import sys

import yaml  # python3-yaml, a dependency of Debian's docker-compose

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../pylib"))
import amltest  # noqa: E402  tests/pylib/amltest.py
from amltest import check  # noqa: E402

SRC = os.environ.get("AMLRISK_SOURCE_DIR") or sys.exit("AMLRISK_SOURCE_DIR is not set")
BIN = os.environ.get("AMLRISK_BIN") or sys.exit("AMLRISK_BIN is not set")

out = subprocess.run(["docker-compose", "-f", os.path.join(SRC, "docker-compose.yml"), "config"],
                     capture_output=True, text=True, cwd=SRC, env=dict(os.environ, POSTGRES_PASSWORD="x",
                                                  AML_RPC_SECRET="s" * 32))
check(out.returncode == 0, f"docker-compose config: {out.stderr.strip()}")
compose = yaml.safe_load(out.stdout)
services = compose["services"]
dockerfile = open(os.path.join(SRC, "Dockerfile")).read()
pom = open(os.path.join(SRC, "scripts/kafka/pom.xml")).read()
kafka_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)

helps = {}


def help_of(binary):
    if binary not in helps:
        if not os.path.exists(os.path.join(BIN, binary)):
            helps[binary] = ""
            return ""
        p = subprocess.run([os.path.join(BIN, binary), "--help"], capture_output=True, text=True)
        check(p.returncode == 0, f"{binary} --help exits 0")
        helps[binary] = p.stdout + p.stderr
    return helps[binary]


def check_invocation(service, argv):
    binary = argv[0]
    check(os.path.exists(os.path.join(BIN, binary)), f"{service}: {binary} is not built")
    check(re.search(r"ninja -C /build[^\n]*(\\\n[^\n]*)*\b" + re.escape(binary) + r"\b", dockerfile)
          is not None, f"{service}: the Dockerfile does not build {binary}")
    check(f"/build/bin/{binary}" in dockerfile, f"{service}: the Dockerfile does not ship {binary}")
    h = help_of(binary)
    for a in argv[1:]:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            check(re.search(re.escape(flag) + r"\b", h) is not None,
                  f"{service}: {binary} --help has no {flag}")
    return h


ours = [n for n, s in services.items() if s.get("image") == "amlrisk:latest"]
check(set(ours) >= {"migrate", "core", "consumer", "gateway", "sim"}, f"amlrisk services: {ours}")
for name in ours:
    s = services[name]
    argv = list(s.get("entrypoint") or []) + list(s.get("command") or [])
    h = check_invocation(name, argv)
    for key in (s.get("environment") or {}):
        check(re.search(r"\b" + re.escape(key) + r"\b", h) is not None,
              f"{name}: {argv[0]} --help does not document {key}")
    hc = (s.get("healthcheck") or {}).get("test") or []
    if len(hc) > 1 and hc[0] == "CMD" and hc[1].startswith("aml"):
        check_invocation(name + " healthcheck", hc[1:])
    check("restart" in s, f"{name}: no restart policy")
for env_line in re.findall(r"^ENV (\w+)=", dockerfile, re.M):
    check(re.search(r"\b" + env_line + r"\b", help_of("amlrisk-gateway")) is not None,
          f"Dockerfile ENV {env_line} unknown to the gateway")

check(services["kafka"]["image"] == f"apache/kafka:{kafka_version}",
      f"kafka image {services['kafka']['image']} is not the pinned {kafka_version}")
check(services["postgres"]["image"].startswith("postgres:16"), "PostgreSQL is not 16")
check("KAFKA_ZOOKEEPER_CONNECT" not in services["kafka"].get("environment", {}), "ZooKeeper in use")
check("broker,controller" in str(services["kafka"]["environment"].get("KAFKA_PROCESS_ROLES")),
      "Kafka is not in combined KRaft mode")
for name in ("core", "consumer"):
    check(services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully",
          f"{name} does not wait for the migration")
check(services["gateway"]["depends_on"]["core"]["condition"] == "service_healthy",
      "the gateway does not wait for a healthy core")
check("pgdata" in compose.get("volumes", {}), "no named volume for PostgreSQL")
# the RPC port: on an internal network only, never published, and authenticated
nets = compose.get("networks", {})
core_env, gw_env = services["core"]["environment"], services["gateway"]["environment"]
check(nets.get("rpc", {}).get("internal") is True, "no internal network for RPC")
check("rpc" in (services["core"].get("networks") or {}), "core is not on the rpc network")
check("rpc" in (services["gateway"].get("networks") or {}), "gateway is not on the rpc network")
check(not any("57100" in str(p) for s in services.values() for p in s.get("ports", [])),
      "the RPC port is published")
check("0.0.0.0" not in str(core_env.get("RPC_LISTEN")), "core listens for RPC on every network")
check(core_env.get("RPC_SECRET") and core_env.get("RPC_SECRET") == gw_env.get("RPC_SECRET"),
      "core and gateway do not share an RPC secret")
unset = subprocess.run(["docker-compose", "-f", os.path.join(SRC, "docker-compose.yml"), "config"],
                       capture_output=True, text=True, cwd=SRC,
                       env={k: v for k, v in dict(os.environ, POSTGRES_PASSWORD="x").items()
                            if k != "AML_RPC_SECRET"})
check(unset.returncode != 0 and "AML_RPC_SECRET" in unset.stderr,
      "compose starts without an RPC secret")
check(any("8000" in str(p) for p in services["gateway"].get("ports", [])), "gateway port 8000")
# monitoring (issue 17): pinned images, Prometheus scrapes each service on the
# port its METRICS_LISTEN (or the gateway's HTTP_LISTEN) names
for name in ("prometheus", "grafana"):
    img = services.get(name, {}).get("image", "")
    check(re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", img) is not None, f"{name} image not pinned: {img!r}")
prom = yaml.safe_load(open(os.path.join(SRC, "deploy/prometheus/prometheus.yml")))
targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
for name, key in (("core", "METRICS_LISTEN"), ("consumer", "METRICS_LISTEN"), ("gateway", "HTTP_LISTEN")):
    port = str(services[name]["environment"].get(key, "")).rsplit(":", 1)[-1]
    check(f"{name}:{port}" in targets, f"Prometheus does not scrape {name}:{port} ({targets})")
mounts = " ".join(str(v) for v in services["grafana"].get("volumes", []))
check("deploy/grafana/dashboards" in mounts and "deploy/grafana/provisioning" in mounts,
      "Grafana does not mount the provisioned dashboard")
sys.exit(amltest.summary())
