#!/usr/bin/env python3
"""console_test.py - the analyst's console against the real platform: simulated
transactions (amlrisk-sim, planted typologies, their sources labelled) loaded
into a fresh PostgreSQL database, amlrisk-core and amlrisk-gateway with both
tokens set, a hop_exposure/v1 and a flow_exposure/v1 run; then
console_test.cjs drives Debian's Chromium through every page (playwright-core,
no browser download) and writes screenshots to CONSOLE_OUT. The planted
launderer it opens is chosen here from the simulator's truth file alone: an
unlabelled mule or sink in the flow run's top 20 whose instance has a labelled
source. Needs `scripts/stack env` (make test). CONSOLE_SERVE=1 keeps the
platform up instead and prints its address (until the gateway is stopped)."""
import csv
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ.get("AMLRISK_BIN") or sys.exit("AMLRISK_BIN is not set: run through make test")
SRC = os.environ.get("AMLRISK_SOURCE_DIR") or sys.exit("AMLRISK_SOURCE_DIR is not set")
DB_BASE = os.environ.get("DATABASE_URL") or sys.exit("DATABASE_URL is not set: run through make test")
OUT = os.environ.get("CONSOLE_OUT", os.path.join(tempfile.gettempdir(), "amlrisk-console"))
READ_TOKEN, WRITE_TOKEN = "console-read", "console-write"
N_TX, N_WALLETS, SEED = 20000, 2000, 7


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url, *cmds):
    args = ["psql", "-Atq", "-v", "ON_ERROR_STOP=1", "-d", url]
    for c in cmds:
        args += ["-c", c]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def http(method, url, body=None, timeout=300):
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, method=method, data=data, headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + WRITE_TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_for(cond, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(what)


def launderer(base, truth, labels, run_id):
    """An unlabelled planted mule or sink of the flow run's top 20 and the
    labelled sources of its instance (from the truth file, not from explain)."""
    members = {}
    for row in truth:
        members.setdefault((row["typology"], row["instance"]), []).append(row)
    role = {r["wallet"]: (r["typology"], r["instance"], r["role"]) for r in truth}
    st, top = http("GET", f"{base}/scores/top?n=20&run_id={run_id}")
    assert st == 200, f"/scores/top: {st} {top}"
    for row in top["scores"]:
        w = row["wallet"]
        if w in labels or w not in role or role[w][2] == "source":
            continue
        sources = [m["wallet"] for m in members[role[w][:2]] if m["role"] == "source" and m["wallet"] in labels]
        if sources:
            return w, sources, role[w]
    raise AssertionError("no planted mule or sink with a labelled source in the flow top 20")


class Platform:
    """A fresh database holding N_TX simulated transactions (planted
    typologies, their sources labelled) and the services started on it with
    spawn(), all with both tokens set; extra_env is added to their environment.
    stop() stops them and drops the database, printing the logs' tails when
    failed. Attributes: work, url, base, env, procs, truth, labels."""

    def __init__(self, prefix, extra_env=None):
        self.work = tempfile.mkdtemp(prefix=f"amlrisk-{prefix}-")
        self.db = f"{prefix}_{os.getpid()}_{random.randrange(1 << 30):08x}"
        self.admin = DB_BASE.rsplit("/", 1)[0] + "/postgres"
        self.url = DB_BASE.rsplit("/", 1)[0] + "/" + self.db
        rpc = f"tcp://127.0.0.1:{free_port()}"
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.env = dict(os.environ, DATABASE_URL=self.url, RPC_LISTEN=rpc, RPC_URL=rpc,
                        HTTP_LISTEN=f"127.0.0.1:{port}", AML_API_TOKEN=WRITE_TOKEN, AML_READ_TOKEN=READ_TOKEN,
                        LOG_LEVEL="warn")
        self.env.update(extra_env or {})
        self.procs = {}
        psql(self.admin, f"CREATE DATABASE {self.db}")

    def load(self):
        """Migrates and stores the simulated transactions and labels."""
        work, url, env = self.work, self.url, self.env
        subprocess.run([os.path.join(BIN, "amlrisk-migrate"), "--database-url", url], env=env,
                       check=True, capture_output=True)
        tx, truth_path, labels_path = (os.path.join(work, f) for f in ("tx.csv", "truth.csv", "labels.txt"))
        subprocess.run([os.path.join(BIN, "amlrisk-sim"), "--wallets", str(N_WALLETS), "--transactions", str(N_TX),
                        "--days", "30", "--seed", str(SEED), "--format", "csv", "--out", tx,
                        "--truth", truth_path, "--labels-out", labels_path], env=env, check=True)
        # straight into PostgreSQL, as the consumer writes: under the append lock
        psql(url, "BEGIN", "SELECT transactions_append_lock()",
             f"\\copy transactions (tx_id, sender, receiver, amount, \"timestamp\", asset) FROM '{tx}' CSV HEADER",
             "CREATE TEMP TABLE l (wallet text)", f"\\copy l FROM '{labels_path}'",
             "INSERT INTO wallet_labels (wallet, label, source) SELECT wallet, 'illicit', 'sim' FROM l", "COMMIT")
        with open(truth_path, newline="") as f:
            self.truth = list(csv.DictReader(f))
        with open(labels_path) as f:
            self.labels = set(f.read().split())

    def spawn(self, name, *args):
        log = open(os.path.join(self.work, name + ".log"), "ab")
        self.procs[name] = subprocess.Popen([os.path.join(BIN, name), *args], env=self.env, stdout=log, stderr=log)
        return self.procs[name]

    def stop(self, failed):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        psql(self.admin, f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
        if failed:
            for name in self.procs:
                print(f"--- {name}.log (tail)")
                with open(os.path.join(self.work, name + ".log"), errors="replace") as f:
                    print("".join(f.readlines()[-20:]))
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    pf = Platform("console")
    base, procs = pf.base, pf.procs
    status = 1
    try:
        pf.load()
        truth, labels = pf.truth, pf.labels
        pf.spawn("amlrisk-core")
        pf.spawn("amlrisk-gateway")
        wait_for(lambda: http("GET", base + "/ready")[0] == 200, 60, "GET /ready never answered 200")
        st, hop = http("POST", base + "/run-score")
        assert st == 200, f"hop run: {st} {hop}"
        st, flow = http("POST", base + "/run-score", {"model": "flow_exposure/v1"})
        assert st == 200, f"flow run: {st} {flow}"
        # the hop run pinned, as `amlctl runs pin` does: the runs page marks it
        psql(pf.url, f"UPDATE scoring_runs SET pinned = true WHERE id = {int(hop['run_id'])}")
        wallet, sources, where = launderer(base, truth, labels, flow["run_id"])
        print(f"planted {where[2]} {wallet} of {where[0]} #{where[1]}, labelled source(s) {sources}", flush=True)

        node_env = dict(os.environ, CONSOLE_BASE=base, CONSOLE_OUT=OUT, CONSOLE_READ_TOKEN=READ_TOKEN,
                        CONSOLE_WRITE_TOKEN=WRITE_TOKEN, CONSOLE_WALLET=wallet,
                        CONSOLE_SOURCES=",".join(sources), CONSOLE_CORE_PID=str(procs["amlrisk-core"].pid),
                        CONSOLE_FLOW_RUN=str(flow["run_id"]), CONSOLE_HOP_RUN=str(hop["run_id"]),
                        NODE_PATH=os.path.join(SRC, "gateway", "node_modules"))
        if os.environ.get("CONSOLE_SERVE"):  # for a person: keep it up, say where
            print("\n".join(f"export {k}='{v}'" for k, v in node_env.items() if k.startswith("CONSOLE_")),
                  flush=True)
            procs["amlrisk-gateway"].wait()
        r = subprocess.run(["node", os.path.join(SRC, "tests", "console", "console_test.cjs")], env=node_env,
                           timeout=240)
        status = r.returncode
        print(f"screenshots: {OUT}", flush=True)
    finally:
        pf.stop(status != 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
