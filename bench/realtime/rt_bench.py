#!/usr/bin/env python3
"""rt_bench.py - the real-time benchmark of issue 14 ("How fast"), run by
bench/realtime/run.sh against the PostgreSQL + Kafka of `scripts/stack env`.

For each model (its defaults as LIVE_SCORING_CONFIG) a fresh database gets a
base graph of RT_TXS simulated transactions (COPY, as the consumer writes, with
the simulator's labelled sources in wallet_labels); amlrisk-core (live view,
ALERT_RULES), amlrisk-consumer and amlrisk-gateway start on it. Then:
  1. the cost of a full POST /reload-graph of that graph (RT_RELOADS times);
  2. for each rate R of RT_RATES: amlrisk-sim --publish --rate R for
     RT_SECONDS over the same wallets, every (R / RT_PROBES)-th transaction a
     probe to a fresh receiver, logged with its send time (--probe-log). A
     poller thread here asks GET /scores/{probe}?view=live until it answers
     200: freshness = the time of that answer - the probe's send time. The
     oldest unseen probe is asked every RT_POLL_MS, the next 3 every
     5 x RT_POLL_MS, and all unseen ones whenever the oldest turns up (the live
     view moves by batches, so probes mostly turn up together). A probe's
     freshness is thus over-stated, never under-stated: by at most one poll
     interval and one request, more only for a probe that overtakes more than
     3 older ones. The polling costs about 1.6 requests per interval plus one
     per probe, whatever the backlog (its CPU is reported as "client").
  3. the CPU of each process over the stream and its catch-up (utime + stime
     from /proc/<pid>/stat before and after; the simulator's from its rusage;
     PostgreSQL is the postmaster and all its children), alerts per second
     (risk_alerts rows made meanwhile), the load average before and after, and
     the follower's own append figures when the core's /metrics has them.
Prints one Markdown table per model and a JSON line per measurement.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.parse

BIN = os.environ["AMLRISK_BIN"]
DB_BASE = os.environ["DATABASE_URL"]
BROKERS = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
TXS = int(os.environ.get("RT_TXS", "1000000"))
WALLETS = int(os.environ.get("RT_WALLETS", str(max(2, TXS // 10))))
RATES = [int(r) for r in os.environ.get("RT_RATES", "1000 10000 50000").split()]
SECONDS = float(os.environ.get("RT_SECONDS", "60"))
PROBES = float(os.environ.get("RT_PROBES", "20"))  # probes per second
POLL_MS = float(os.environ.get("RT_POLL_MS", "10"))
RELOADS = int(os.environ.get("RT_RELOADS", "3"))
REPS = int(os.environ.get("RT_REPS", "1"))
MODELS = os.environ.get("RT_MODELS", "hop_exposure/v1 flow_exposure/v1").split()
RULES = os.environ.get("RT_ALERT_RULES", "threshold>=0.5,top<=100")
OVERTAKE = 3  # younger probes asked on the periodic sweep: one turning up before more older ones is seen late
CATCHUP_S = float(os.environ.get("RT_CATCHUP_S", "120"))
OUT = os.environ.get("RT_OUT") or tempfile.mkdtemp(prefix="amlrisk-rt-bench-")
HZ = os.sysconf("SC_CLK_TCK")


def log(*a):
    print("rt_bench:", *a, file=sys.stderr, flush=True)


def psql(url, *cmds):
    args = ["psql", "-Atq", "-v", "ON_ERROR_STOP=1", "-d", url]
    for c in cmds:
        args += ["-c", c]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---- CPU of processes ----------------------------------------------------------

def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in seconds, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()  # after "pid (comm) "
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / HZ
    kids = (int(fields[13]) + int(fields[14])) / HZ
    return ppid, own, kids


def tree_cpu(root):
    """CPU seconds of root and its live children, plus what its exited
    children left in its cutime (PostgreSQL backends come and go)."""
    st = proc_stat(root)
    if st is None:
        return 0.0
    total = st[1] + st[2]
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != root:
            c = proc_stat(int(d))
            if c is not None and c[0] == root:
                total += c[1]
    return total


def postmaster_pid(url):
    with open(os.path.join(psql(url, "SHOW data_directory"), "postmaster.pid")) as f:
        return int(f.readline())


def kafka_pid():
    with open(os.path.join(os.environ["AMLRISK_VAR"], "run", "kafka.pid")) as f:
        return int(f.read().strip())


# ---- HTTP ---------------------------------------------------------------------

class Http:
    """One kept-alive connection to the gateway."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.c = None

    def req(self, method, path, body=None, timeout=600):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
                self.c.request(method, path, body=data, headers={"Content-Type": "application/json"})
                r = self.c.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw and raw[:1] in b"{[" else raw.decode(errors="replace"))
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def poll_until(cond, seconds):
    """True once cond() holds, False after seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return False


def wait_for(cond, seconds, what):
    if not poll_until(cond, seconds):
        raise SystemExit(f"rt_bench: {what}")


# ---- the probe poller -----------------------------------------------------------

class Poller(threading.Thread):
    """Tails the simulator's probe log and polls each probe's live score until
    it answers 200. results: (wallet, sent_us, seen_us, watermark)."""

    def __init__(self, base, path):
        super().__init__(daemon=True)
        self.http = Http(base)
        self.path = path
        self.pending = []  # [wallet, sent_us], oldest first
        self.results = []
        self.requests = 0
        self.stop_at = None  # monotonic deadline once the simulator is done
        self.done = threading.Event()
        self.errors = []

    def _read_new(self, f):
        while True:
            pos = f.tell()
            line = f.readline()
            if not line.endswith("\n"):
                f.seek(pos)
                return
            w, _tx, us = line.split()
            self.pending.append([w, int(us)])

    def _ask(self, wallet):
        self.requests += 1
        st, body = self.http.req("GET", f"/scores/{urllib.parse.quote(wallet)}?view=live", timeout=30)
        now = time.time_ns() // 1000
        if st == 200:
            return now, body.get("watermark")
        if st != 404:
            self.errors.append(f"{wallet}: {st} {str(body)[:200]}")
        return None

    def _sweep(self, start, count):
        """Asks pending[start:start+count] (count None: to the end)."""
        end = len(self.pending) if count is None else min(len(self.pending), start + count)
        keep = self.pending[:start] + self.pending[end:]
        for p in self.pending[start:end]:
            got = self._ask(p[0])
            if got:
                self.results.append((p[0], p[1], got[0], got[1]))
            else:
                keep.append(p)
        self.pending = keep

    def run(self):
        while not os.path.exists(self.path):
            time.sleep(0.005)
        with open(self.path) as f:
            tick = 0
            while True:
                t0 = time.monotonic()
                self._read_new(f)
                if self.pending:
                    got = self._ask(self.pending[0][0])
                    if got:
                        p = self.pending.pop(0)
                        self.results.append((p[0], p[1], got[0], got[1]))
                        self._sweep(0, None)
                    elif tick % 5 == 4:
                        self._sweep(1, OVERTAKE)
                elif self.stop_at is not None:
                    break
                if self.stop_at is not None and time.monotonic() > self.stop_at:
                    break
                tick += 1
                time.sleep(max(0.0, POLL_MS / 1000 - (time.monotonic() - t0)))
        self.done.set()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))  # nearest rank
    return xs[k]


def median(xs):
    xs = sorted(x for x in xs if x == x)
    if not xs:
        return float("nan")
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


# ---- one model ------------------------------------------------------------------

def metrics(*bases):
    """The live view's and follower's samples of these /metrics, as a dict."""
    out = {}
    for base in bases:
        st, text = Http(base).req("GET", "/metrics")
        if st != 200 or not isinstance(text, str):
            continue
        for line in text.splitlines():
            m = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+([-0-9.e+]+)$", line)
            if m and re.search(r"live|append|follow|graph|alert", m.group(1)):
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def run_model(model, files, results):
    short = model.split("_")[0]
    db = f"rt_bench_{short}_{os.getpid()}"
    admin = DB_BASE.rsplit("/", 1)[0] + "/postgres"
    url = DB_BASE.rsplit("/", 1)[0] + "/" + db
    work = os.path.join(OUT, short)
    os.makedirs(work, exist_ok=True)
    port, mport = free_port(), free_port()
    base, core_metrics = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{mport}"
    topic = f"rt.bench.{short}.{os.getpid()}"
    live_cfg = json.dumps({"model": model})
    env = dict(os.environ, DATABASE_URL=url, RPC_LISTEN=f"ipc://{work}/core.ipc", RPC_URL=f"ipc://{work}/core.ipc",
               HTTP_LISTEN=f"127.0.0.1:{port}", LIVE_SCORING_CONFIG=live_cfg, ALERT_RULES=RULES,
               ALERTS_TOPIC=f"rt.bench.alerts.{short}.{os.getpid()}", LOG_LEVEL="warn")
    for k in ("AML_API_TOKEN", "AML_READ_TOKEN"):
        env.pop(k, None)
    procs = {}

    def spawn(name, *args, extra=None):
        logf = open(os.path.join(work, name + ".log"), "ab")
        procs[name] = subprocess.Popen([os.path.join(BIN, name), *args], env=dict(env, **(extra or {})),
                                       stdout=logf, stderr=logf)
        return procs[name]

    psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}")
    try:
        subprocess.run([os.path.join(BIN, "amlrisk-migrate"), "--database-url", url], env=env, check=True,
                       capture_output=True)
        t0 = time.monotonic()
        psql(url, "BEGIN", "SELECT transactions_append_lock()",
             f"\\copy transactions (tx_id, sender, receiver, amount, \"timestamp\", asset) FROM '{files['tx']}' CSV HEADER",
             "CREATE TEMP TABLE l (wallet text)", f"\\copy l FROM '{files['labels']}'",
             "INSERT INTO wallet_labels (wallet, label, source) SELECT wallet, 'illicit', 'sim' FROM l", "COMMIT",
             "VACUUM ANALYZE transactions")
        log(f"{model}: base graph of {TXS} rows stored in {time.monotonic() - t0:.1f} s")
        # the broker makes the topic (4 partitions) on this first message, before the consumer subscribes
        subprocess.run([os.path.join(BIN, "amlrisk-sim"), "--publish", "--topic", topic, "--wallets", str(WALLETS),
                        "--transactions", "1", "--no-typologies", "--seed", "999", "--quiet"], env=env, check=True)
        # METRICS_LISTEN for the core only (the consumer reads it too); debug
        # for the follower's per-round "follow.appended" lines (rows, seconds)
        spawn("amlrisk-core", extra={"METRICS_LISTEN": f"127.0.0.1:{mport}", "LOG_LEVEL": "debug"})
        core_log = os.path.join(work, "amlrisk-core.log")
        spawn("amlrisk-gateway")
        spawn("amlrisk-consumer", "--topic", topic, "--group", topic, "--consumer-id", f"rt-{short}")
        h = Http(base)
        t0 = time.monotonic()
        wait_for(lambda: h.req("GET", "/ready")[0] == 200, 600, f"{model}: GET /ready never answered 200")
        log(f"{model}: ready (graph and live view) {time.monotonic() - t0:.1f} s after start")
        pg = postmaster_pid(url)
        pids = {"core": procs["amlrisk-core"].pid, "consumer": procs["amlrisk-consumer"].pid,
                "gateway": procs["amlrisk-gateway"].pid}

        # 1. full reloads of the same graph, through the gateway
        reloads = []
        for i in range(RELOADS):
            c0, w0 = tree_cpu(pids["core"]), time.monotonic()
            st, body = h.req("POST", "/reload-graph")
            assert st == 200, f"reload: {st} {body}"
            reloads.append({"elapsed": time.monotonic() - w0, "core_cpu": tree_cpu(pids["core"]) - c0,
                            "answer": body})
            wait_for(lambda: h.req("GET", "/ready")[0] == 200, 600, "not ready after reload")
            log(f"{model}: reload {i + 1}: {reloads[-1]['elapsed']:.2f} s wall, {reloads[-1]['core_cpu']:.2f} CPU-s of the core")
        with open(os.path.join(work, "reload.json"), "w") as f:
            json.dump(reloads, f, indent=1)

        # 2. the streams
        for rep in range(REPS):
            for ri, rate in enumerate(RATES):
                seed = 1000 + 100 * rep + ri
                n = int(rate * SECONDS)
                every = max(1, int(round(rate / PROBES)))
                plog = os.path.join(work, f"probes-{rate}-{rep}.log")
                if os.path.exists(plog):
                    os.unlink(plog)
                a0 = int(psql(url, "SELECT coalesce(max(id), 0) FROM risk_alerts"))
                rows0 = int(psql(url, "SELECT count(*) FROM transactions"))
                m0 = metrics(base, core_metrics)
                log_at = os.path.getsize(core_log)
                l0 = loadavg()
                cpu0 = {k: tree_cpu(p) for k, p in pids.items()}
                cpu0["postgres"], cpu0["kafka"] = tree_cpu(pg), tree_cpu(kafka_pid())
                self0 = os.times()
                poller = Poller(base, plog)
                poller.start()
                w0 = time.monotonic()
                sim = subprocess.Popen([os.path.join(BIN, "amlrisk-sim"), "--publish", "--topic", topic,
                                        "--wallets", str(WALLETS), "--transactions", str(n), "--seed", str(seed),
                                        "--no-typologies", "--rate", str(rate), "--probe-every", str(every),
                                        "--probe-log", plog, "--quiet"], env=env,
                                       stderr=open(os.path.join(work, "sim.log"), "ab"))
                _, status, ru = os.wait4(sim.pid, 0)
                sim.returncode = os.waitstatus_to_exitcode(status)
                send_s = time.monotonic() - w0
                if sim.returncode != 0:
                    raise SystemExit(f"rt_bench: amlrisk-sim exited {sim.returncode}; see {work}/sim.log")
                poller.stop_at = time.monotonic() + CATCHUP_S
                poller.done.wait()
                # the view caught up with everything sent: its lag in rows reaches 0
                caught_up = poll_until(lambda: (h.req("GET", "/health")[1].get("live") or {}).get("lag_rows", 1) == 0
                                       and int(psql(url, "SELECT count(*) FROM transactions")) >= rows0 + n, CATCHUP_S)
                total_s = time.monotonic() - w0
                cpu1 = {k: tree_cpu(p) for k, p in pids.items()}
                cpu1["postgres"], cpu1["kafka"] = tree_cpu(pg), tree_cpu(kafka_pid())
                self1 = os.times()
                l1 = loadavg()
                m1 = metrics(base, core_metrics)
                a1 = int(psql(url, "SELECT coalesce(max(id), 0) FROM risk_alerts"))
                fresh = [(seen - sent) / 1000.0 for _w, sent, seen, _wm in poller.results]  # ms
                rounds = appended_rounds(core_log, log_at)
                cpu = {k: (cpu1[k] - cpu0[k]) / total_s for k in cpu0}
                cpu["sim"] = (ru.ru_utime + ru.ru_stime) / total_s
                cpu["client"] = (self1.user + self1.system - self0.user - self0.system) / total_s
                r = {"model": model, "rate": rate, "rep": rep, "sent": n, "send_seconds": round(send_s, 2),
                     "seconds_to_caught_up": round(total_s, 2), "caught_up": caught_up, "probes": len(poller.results) + len(poller.pending),
                     "probes_unseen": len(poller.pending), "poll_requests": poller.requests,
                     "poll_errors": poller.errors[:5],
                     "p50_ms": pct(fresh, 50), "p99_ms": pct(fresh, 99), "max_ms": max(fresh) if fresh else None,
                     "alerts": a1 - a0, "alerts_per_s": (a1 - a0) / send_s,
                     "cpu": {k: round(v, 3) for k, v in cpu.items()},
                     "core_cpu_s": round(cpu1["core"] - cpu0["core"], 3),
                     "rounds": len(rounds), "round_rows_median": median([x[0] for x in rounds]),
                     "append_s_median": median([x[1] for x in rounds]),
                     "append_us_per_row": (sum(x[1] for x in rounds) / max(1, sum(x[0] for x in rounds))) * 1e6, "load_before": l0, "load_after": l1,
                     "metrics_delta": {k: m1[k] - m0.get(k, 0) for k in m1}}
                results.append(r)
                print("RESULT " + json.dumps(r), flush=True)
                log(f"{model} {rate}/s: p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms'] or float('nan'):.0f} ms "
                    f"over {len(fresh)} probes ({r['probes_unseen']} unseen), {r['alerts_per_s']:.1f} alerts/s, "
                    f"load {l0:.1f} -> {l1:.1f}")
        results.append({"model": model, "reloads": [{k: v for k, v in x.items() if k != "answer"} for x in reloads]})
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def appended_rounds(path, offset):
    """(rows, seconds) of each follower round logged after offset: reading the
    new rows and appending them to a new graph version (not the re-score)."""
    out = []
    with open(path, errors="replace") as f:
        f.seek(offset)
        for line in f:
            m = re.search(r"follow\.appended rows=(\d+) .*seconds=([0-9.]+)", line)
            if m:
                out.append((int(m.group(1)), float(m.group(2))))
    return out


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(results):
    print()
    print(f"Real-time freshness, {TXS} transactions in the base graph ({WALLETS} wallets), "
          f"{SECONDS:.0f} s per rate, {PROBES:g} probes/s, poll {POLL_MS:g} ms, ALERT_RULES={RULES}; "
          f"medians over {REPS} repeat(s)")
    print()
    print("| model | rate tx/s | probes (unseen) | p50 ms | p99 ms | max ms | alerts/s | CPU core | consumer | "
          "gateway | postgres | kafka | sim | client | load before/after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for model in MODELS:
        for rate in RATES:
            rs = [r for r in results if r.get("model") == model and r.get("rate") == rate]
            if not rs:
                continue
            med = lambda k: median([r[k] for r in rs if r[k] is not None])  # noqa: E731
            mc = lambda k: median([r["cpu"][k] for r in rs])
            print(f"| {model} | {rate} | {median([r['probes'] for r in rs]):.0f} ({sum(r['probes_unseen'] for r in rs)}) "
                  f"| {med('p50_ms'):.0f} | {med('p99_ms'):.0f} | {med('max_ms'):.0f} | {med('alerts_per_s'):.1f} | "
                  + " | ".join(f"{mc(k):.2f}" for k in ("core", "consumer", "gateway", "postgres", "kafka", "sim", "client"))
                  + " | " + ", ".join(f"{r['load_before']:.1f}/{r['load_after']:.1f}" for r in rs) + " |")
    print()
    print("CPU columns: CPU-seconds per second of wall time (1.00 = one core busy) from the first send until the live "
          "view had caught up.")
    print()
    print(f"Incremental append against a full reload of the same {TXS}-row graph (same run). The stream's "
          "core CPU covers everything the core did for it: reading the new rows, appending them, bringing the "
          "live view up to date, alerts, and answering the probes' reads.")
    print()
    print("| model | full POST /reload-graph: wall s (median; each) | its core CPU-s | core CPU us per row, reload "
          "| core CPU us per streamed row (rate: value) | follower rounds: median rows, median append s, "
          "append us per row (rate: values) |")
    print("|---|---:|---:|---:|---|---|")
    for r in results:
        if "reloads" not in r:
            continue
        rl = r["reloads"]
        streams = [x for x in results if x.get("model") == r["model"] and "rate" in x]
        per_row = ", ".join(f"{rate}/s: {median([x['core_cpu_s'] / x['sent'] * 1e6 for x in streams if x['rate'] == rate]):.2f}"
                            for rate in RATES if any(x["rate"] == rate for x in streams))
        print(f"| {r['model']} | {median([x['elapsed'] for x in rl]):.2f} ("
              + ", ".join(f"{x['elapsed']:.2f}" for x in rl) + f") | {median([x['core_cpu'] for x in rl]):.2f} | "
              f"{median([x['core_cpu'] for x in rl]) / TXS * 1e6:.2f} | {per_row} | "
              + ", ".join(f"{rate}/s: {median([x.get('round_rows_median', float('nan')) for x in streams if x['rate'] == rate]):.0f} rows, "
                          f"{median([x.get('append_s_median', float('nan')) for x in streams if x['rate'] == rate]):.3f} s, "
                          f"{median([x.get('append_us_per_row', float('nan')) for x in streams if x['rate'] == rate]):.2f} us"
                          for rate in RATES if any(x["rate"] == rate for x in streams)) + " |")


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {"tx": os.path.join(OUT, f"base-{TXS}.csv"), "labels": os.path.join(OUT, f"labels-{TXS}.txt")}
    if not os.path.exists(files["tx"]) or os.environ.get("RT_REGEN"):
        log(f"generating {TXS} transactions over {WALLETS} wallets")
        subprocess.run([os.path.join(BIN, "amlrisk-sim"), "--wallets", str(WALLETS), "--transactions", str(TXS),
                        "--seed", "42", "--format", "csv", "--out", files["tx"], "--labels-out", files["labels"],
                        "--quiet"], check=True)
    results = []
    for model in MODELS:
        run_model(model, files, results)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    report(results)
    log(f"raw results and logs in {OUT}")


if __name__ == "__main__":
    main()
