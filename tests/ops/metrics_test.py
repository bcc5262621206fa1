#!/usr/bin/env python3
"""metrics_test.py - /metrics of the consumer, the core and the gateway against
the real stack (issue 17): `promtool check metrics` accepts each service's real
output; the values move (rows stored reach the transactions produced, a run
counts as completed with its durations, graph sizes match the run, RPC latency
and errors per method); a metrics port in use or a malformed address stops the
process with a message naming it; `promtool check config` accepts
deploy/prometheus/prometheus.yml; every metric the Grafana dashboard queries is
one the services expose, and each dashboard query returns data from a real
Prometheus (Debian's binary) scraping these services, as `make demo` runs it
with AMLRISK_DEMO_PROMETHEUS=1. Needs `scripts/stack env` (make test)."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))
import promlocal  # noqa: E402  scripts/promlocal.py: the demo's Prometheus
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../pylib"))
import amltest  # noqa: E402  tests/pylib/amltest.py: check(), psql, free_port, wait_for
from amltest import check, free_port, psql, wait_for  # noqa: E402

BIN = os.environ.get("AMLRISK_BIN") or sys.exit("AMLRISK_BIN is not set: run through make test")
SRC = os.environ.get("AMLRISK_SOURCE_DIR") or sys.exit("AMLRISK_SOURCE_DIR is not set")
DB_BASE = os.environ.get("DATABASE_URL") or sys.exit("DATABASE_URL is not set: run through make test")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or sys.exit("KAFKA_BOOTSTRAP_SERVERS is not set")
N_TX = 3000


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url, timeout=300):
    req = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}


def parse(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    """The sum of name's samples whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def promtool_metrics(service, text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    check(p.returncode == 0, f"promtool check metrics on the {service}: {p.stdout}{p.stderr}")


def exits_with(argv, env, needle, what):
    """Runs argv until it exits (60 s at most): status 2 and needle in stderr."""
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        check(False, f"{what}: still running after 60 s")
        return
    check(p.returncode == 2 and needle in p.stderr,
          f"{what}: status {p.returncode}, stderr {p.stderr.strip()[-300:]!r}, want {needle!r}")


def start_prometheus(work, targets):
    """Debian's prometheus on a free port, configured by scripts/promlocal.py
    as `make demo` does, with a private data dir under work."""
    path = os.path.join(work, "prometheus.yml")
    open(path, "w").write(promlocal.config(targets))
    port = free_port()
    log = open(os.path.join(work, "prometheus.log"), "ab")
    p = subprocess.Popen(["prometheus", "--config.file", path, "--storage.tsdb.path",
                          os.path.join(work, "prom-data"), "--web.listen-address",
                          f"127.0.0.1:{port}"], stdout=log, stderr=log)
    return p, f"http://127.0.0.1:{port}"


def main():
    work = tempfile.mkdtemp(prefix="amlrisk-metrics-")
    tag = f"{os.getpid()}_{random.randrange(1 << 30):08x}"
    db = f"metrics_{tag}"
    admin = DB_BASE.rsplit("/", 1)[0] + "/postgres"
    url = DB_BASE.rsplit("/", 1)[0] + "/" + db
    topic = f"metrics.tx.{tag}"
    rpc = f"tcp://127.0.0.1:{free_port()}"
    http_port, cons_port, core_port = free_port(), free_port(), free_port()
    gw = f"http://127.0.0.1:{http_port}"
    cons_m, core_m = f"http://127.0.0.1:{cons_port}/metrics", f"http://127.0.0.1:{core_port}/metrics"
    env = dict(os.environ, DATABASE_URL=url, RPC_LISTEN=rpc, RPC_URL=rpc,
               HTTP_LISTEN=f"127.0.0.1:{http_port}", KAFKA_TOPIC=topic,
               KAFKA_GROUP_ID=topic + ".group", LOG_LEVEL="warn")
    procs = []

    def spawn(name, *args, extra=None):
        log = open(os.path.join(work, name + ".log"), "ab")
        p = subprocess.Popen([os.path.join(BIN, name), *args], env=dict(env, **(extra or {})),
                             stdout=log, stderr=log)
        procs.append(p)
        return p

    p = subprocess.run(["promtool", "check", "config",
                        os.path.join(SRC, "deploy/prometheus/prometheus.yml")],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"promtool check config: {p.stdout}{p.stderr}")
    psql(admin, f"CREATE DATABASE {db}")
    try:
        subprocess.run([os.path.join(BIN, "amlrisk-migrate"), "--database-url", url], env=env,
                       check=True, capture_output=True)
        # metrics off by default: nothing listens until asked
        consumer = spawn("amlrisk-consumer", "--consumer-id", "metrics",
                         extra={"METRICS_LISTEN": f"127.0.0.1:{cons_port}"})
        core = spawn("amlrisk-core", "--metrics-listen", f"127.0.0.1:{core_port}",
                     "--live-scoring-config", "{}")
        spawn("amlrisk-gateway")
        wait_for(lambda: get(cons_m)[0] == 200, 30, "the consumer's /metrics never answered")
        wait_for(lambda: get(core_m)[0] == 200, 30, "the core's /metrics never answered")
        st, first = get(cons_m)
        check(value(parse(first), "amlrisk_consumer_rows_stored_total") == 0,
              "rows stored before anything was produced")
        check(get(f"http://127.0.0.1:{cons_port}/other")[0] == 404, "/other is not 404")

        # a port in use and a malformed address stop the process, by name
        exits_with([os.path.join(BIN, "amlrisk-consumer"), "--consumer-id", "metrics-busy"],
                   dict(env, METRICS_LISTEN=f"127.0.0.1:{core_port}"),
                   f"metrics: address already in use: 127.0.0.1:{core_port}", "consumer on a busy port")
        exits_with([os.path.join(BIN, "amlrisk-core"), "--listen", f"tcp://127.0.0.1:{free_port()}",
                    "--metrics-listen", f"127.0.0.1:{cons_port}"], env,
                   f"metrics: address already in use: 127.0.0.1:{cons_port}", "core on a busy port")
        exits_with([os.path.join(BIN, "amlrisk-core"), "--metrics-listen", "9101"], env,
                   "metrics: expected HOST:PORT, got '9101'", "core with no host")
        exits_with([os.path.join(BIN, "amlrisk-consumer")], dict(env, METRICS_LISTEN="localhost:99999"),
                   "metrics: bad port in 'localhost:99999'", "consumer with a bad port")

        # ingest: rows stored reach what was produced, with one invalid message
        subprocess.run([os.path.join(BIN, "amlrisk-sim"), "--wallets", "300", "--transactions",
                        str(N_TX), "--days", "30", "--seed", "7", "--publish", "--topic", topic,
                        "--bootstrap", KAFKA], env=env, check=True, capture_output=True)
        bad = '{"tx_id":"bad-%s","sender":"a","receiver":"b","amount":"-1","timestamp_us":1,"asset":"BTC"}\n' % tag
        subprocess.run([os.path.join(BIN, "amlrisk-sim"), "--publish", "--in", "-", "--format", "jsonl",
                        "--no-validate", "--topic", topic, "--bootstrap", KAFKA], env=env,
                       input=bad.encode(), capture_output=True)
        wait_for(lambda: value(parse(get(cons_m)[1]), "amlrisk_consumer_rows_stored_total") >= N_TX,
                 120, "rows stored never reached the transactions produced")
        s = parse(get(cons_m)[1])
        check(value(s, "amlrisk_consumer_rows_stored_total") == N_TX,
              f"rows stored {value(s, 'amlrisk_consumer_rows_stored_total')} != {N_TX}")
        check(int(psql(url, "SELECT count(*) FROM transactions")) == N_TX, "rows in the table")
        check(value(s, "amlrisk_consumer_flush_duration_seconds_count") ==
              value(s, "amlrisk_consumer_batches_total") > 0, "one flush latency per batch")
        check(any(n == "amlrisk_consumer_lag_messages" for n, _ in s), "no lag per partition")
        wait_for(lambda: value(parse(get(cons_m)[1]), "amlrisk_consumer_dead_lettered_total") == 1, 60,
                 "the invalid message was not counted as dead-lettered")
        dead = [dict(ls) for (n, ls), v in parse(get(cons_m)[1]).items()
                if n == "amlrisk_consumer_dead_lettered_total" and v > 0]
        check([d.get("reason") for d in dead] == ["amount"], f"dead letter reasons {dead}")
        s = parse(get(cons_m)[1])
        check(value(s, "amlrisk_consumer_batch_messages_count") >= 1
              and value(s, "amlrisk_consumer_batch_messages_sum") == N_TX + 1,
              f"batch sizes add up to {value(s, 'amlrisk_consumer_batch_messages_sum')}, "
              f"not the {N_TX + 1} messages")
        promtool_metrics("consumer", get(cons_m)[1])

        # score: graph size, durations, runs by status, RPC latency and errors
        wait_for(lambda: get(gw + "/ready")[0] == 200, 60, "the gateway never got ready")
        st, _ = post(gw + "/reload-graph")
        check(st == 200, f"POST /reload-graph answered {st}")
        st, run = post(gw + "/run-score")
        check(st == 200, f"POST /run-score answered {st}")
        get(gw + "/scores/" + "no-such-wallet-" + tag)  # NOT_FOUND from the core
        c = parse(get(core_m)[1])
        model = run.get("model") or "hop_exposure/v1"
        check(value(c, "amlrisk_core_runs_total", status="completed") == 1, "runs completed")
        check(value(c, "amlrisk_core_run_score_duration_seconds_count") == 1, "score durations")
        check(value(c, "amlrisk_core_run_store_duration_seconds_count") == 1, "store durations")
        check(0 < value(c, "amlrisk_core_graph_wallets") == run.get("wallets_scored"),
              f"graph wallets {value(c, 'amlrisk_core_graph_wallets')} != {run.get('wallets_scored')}")
        check(value(c, "amlrisk_core_graph_transactions") == N_TX, "graph transactions")
        check(value(c, "amlrisk_core_graph_edges") > 0, "graph edges")
        check(value(c, "amlrisk_core_rpc_duration_seconds_count", method="RunScore") == 1,
              "RunScore latency observed once")
        check(value(c, "amlrisk_core_rpc_errors_total", method="GetWalletScore", code="NOT_FOUND") >= 1,
              "GetWalletScore NOT_FOUND not counted")
        check(any(dict(ls).get("model") == model for n, ls in c if n == "amlrisk_core_runs_total"),
              f"runs not labelled with model {model}")
        # the follower: graph and live watermarks at the newest row, no lag
        newest = int(psql(url, "SELECT coalesce(max(seq), 0) FROM transactions").strip())

        def live_caught_up():
            m = parse(get(core_m)[1])
            return (value(m, "amlrisk_core_graph_watermark") == newest
                    and value(m, "amlrisk_core_live_watermark") == newest
                    and value(m, "amlrisk_core_live_lag_rows") == 0
                    and value(m, "amlrisk_core_live_lag_seconds", model="hop_exposure/v1") == 0)
        wait_for(live_caught_up, 60, "the core's live metrics never showed it caught up")
        # retention off here: its families are exposed (promtool sees them) at 0;
        # server_retain_test counts real prunes
        check(value(c, "amlrisk_core_runs_pruned_total") == 0, "runs pruned with retention off")
        check(value(c, "amlrisk_core_retention_errors_total") == 0, "retention errors")
        promtool_metrics("core", get(core_m)[1])
        promtool_metrics("gateway", get(gw + "/metrics")[1])

        # the dashboard: names exposed, then each query answered by Prometheus
        exposed = set()
        for text in (get(cons_m)[1], get(core_m)[1], get(gw + "/metrics")[1]):
            exposed |= {n for n, _ in parse(text)}
        exprs = promlocal.exprs()
        check(len(exprs) >= 8, f"the dashboard has {len(exprs)} queries")
        for e in exprs:
            for name in set(re.findall(r"\bamlrisk_[a-z_]+", e)):
                check(name in exposed, f"dashboard query names {name}, which no service exposes")
        if shutil.which("prometheus") is None:
            check(False, "prometheus is not installed (scripts/bootstrap)")
        else:
            prom, base = start_prometheus(work, {
                "amlrisk-gateway": f"127.0.0.1:{http_port}",
                "amlrisk-consumer": f"127.0.0.1:{cons_port}",
                "amlrisk-core": f"127.0.0.1:{core_port}"})
            procs.append(prom)
            # rates need two scrapes after the events: keep some traffic going
            missing = promlocal.empty(base, lambda: get(gw + "/scores/top?n=5"), 90)
            check(not missing, f"dashboard queries with no data: {missing}")
            up = promlocal.query(base, "up") or []
            check(len(up) == 3 and all(r["value"][1] == "1" for r in up), f"targets up: {up}")
        check(consumer.poll() is None and core.poll() is None, "a service exited")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        if amltest.failed == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}", flush=True)
    sys.exit(amltest.summary())


main()
