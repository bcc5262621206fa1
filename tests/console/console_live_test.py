#!/usr/bin/env python3
"""console_live_test.py - the analyst's console with real-time scoring ON
against the real platform: the simulated data of console_test.py in a fresh
database, amlrisk-core with LIVE_SCORING_CONFIG (flow_exposure/v1 defaults) and
ALERT_RULES, amlrisk-consumer on a fresh topic, amlrisk-gateway. A first batch
is published with amlrisk-sim and followed by the live view without any manual
call; then console_live_test.cjs drives Debian's Chromium: the overview's
live-view card (watermarks, freshness), the live leaderboard (the live
scores and the watermark they reflect), and the alerts page, which must show a
new alert through the SSE stream without a reload when a transaction from a
labelled source to a fresh wallet is published while it is open. Screenshots
go to CONSOLE_OUT. Needs `scripts/stack env` (make test)."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console_test as ct  # noqa: E402  (the platform and helpers of the run-based test)

FIRST_BATCH = 3000


def newest_seq(url):
    return int(ct.psql(url, "SELECT coalesce(max(seq), 0) FROM transactions").strip())


def live_current(base, url, want_rows):
    """True once want_rows rows are stored and the live view reflects the newest."""
    st, hl = ct.http("GET", base + "/health")
    live = hl.get("live") or {}
    stored = int(ct.psql(url, "SELECT count(*) FROM transactions").strip())
    return stored >= want_rows and live.get("watermark") == newest_seq(url) and live.get("lag_rows") == 0


def main():
    out = ct.OUT
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tag = f"{os.getpid()}"
    topic = f"console.live.tx.{tag}"
    pf = ct.Platform("console_live", {
        "LIVE_SCORING_CONFIG": json.dumps({"model": "flow_exposure/v1"}),
        "ALERT_RULES": "threshold>=0.5,top<=10",
        "ALERTS_TOPIC": f"console.live.alerts.{tag}",
    })
    base, url, sim = pf.base, pf.url, os.path.join(ct.BIN, "amlrisk-sim")
    status = 1
    try:
        pf.load()
        # the first batch, published before the consumer starts (the broker
        # makes the topic on it): ordinary traffic among the same wallets
        subprocess.run([sim, "--publish", "--topic", topic, "--wallets", str(ct.N_WALLETS), "--transactions",
                        str(FIRST_BATCH), "--seed", "8", "--no-typologies", "--quiet"], env=pf.env, check=True)
        pf.spawn("amlrisk-core")
        pf.spawn("amlrisk-gateway")
        pf.spawn("amlrisk-consumer", "--topic", topic, "--group", topic, "--consumer-id", f"console-live-{tag}")
        ct.wait_for(lambda: ct.http("GET", base + "/ready")[0] == 200, 120, "GET /ready never answered 200")
        ct.wait_for(lambda: live_current(base, url, ct.N_TX + FIRST_BATCH), 120,
                    "the live view never reflected the first batch")
        st, top = ct.http("GET", base + "/scores/top?view=live&n=5")
        assert st == 200 and top.get("view") == "live", f"/scores/top?view=live: {st} {top}"

        # the push: one large transaction from a labelled source to a fresh
        # wallet (received exposure about 1: over the 0.5 threshold)
        source = sorted(pf.labels)[0]
        hot = f"console-hot-{tag}"
        push = os.path.join(pf.work, "push.csv")
        with open(push, "w") as f:
            f.write("tx_id,sender,receiver,amount,timestamp,asset\n"
                    f"console-live-{tag}-1,{source},{hot},100000.000000,2026-01-01T00:00:00.000000Z,BTC\n")
        node_env = dict(os.environ, CONSOLE_BASE=base, CONSOLE_OUT=out, CONSOLE_WRITE_TOKEN=ct.WRITE_TOKEN,
                        CONSOLE_HOT=hot, CONSOLE_TOP=top["scores"][0]["wallet"],
                        CONSOLE_WATERMARK=str(top["watermark"]),
                        CONSOLE_PUSH=json.dumps([sim, "--publish", "--in", push, "--topic", topic, "--quiet"]),
                        NODE_PATH=os.path.join(ct.SRC, "gateway", "node_modules"))
        r = subprocess.run(["node", os.path.join(ct.SRC, "tests", "console", "console_live_test.cjs")],
                           env=node_env, timeout=240)
        status = r.returncode
        print(f"screenshots: {out}", flush=True)
    finally:
        pf.stop(status != 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
