#!/usr/bin/env python3
"""promlocal.py - the compose Prometheus run locally (issue 17), shared by
`make demo` (AMLRISK_DEMO_PROMETHEUS=1) and tests/ops/metrics_test.py:
  promlocal.py config OUT JOB=HOST:PORT...  deploy/prometheus/prometheus.yml with
                                            each job's target replaced, 1 s scrapes
  promlocal.py check URL [SECONDS]          every query of the Grafana dashboard
                                            returns data from the Prometheus at URL
                                            (polled up to SECONDS, default 60);
                                            prints each, exits 1 if one never does"""
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "deploy/prometheus/prometheus.yml")
DASHBOARD = os.path.join(ROOT, "deploy/grafana/dashboards/amlrisk.json")


def config(targets):
    """The compose config with job -> "host:port" of targets substituted."""
    cfg = open(CONFIG).read().replace("scrape_interval: 5s", "scrape_interval: 1s")
    for job, addr in targets.items():
        cfg, n = re.subn(r'(job_name: %s\n\s+static_configs:\n\s+- targets: \[)"[^"]+"'
                         % re.escape(job), r'\g<1>"%s"' % addr, cfg)
        if n != 1:
            raise ValueError(f"no job {job} in {CONFIG}")
    return cfg


def exprs():
    """Every query of the dashboard, in panel order."""
    d = json.load(open(DASHBOARD))
    return [t["expr"] for p in d["panels"] for t in p.get("targets", [])]


def query(base, expr):
    """The result vector of expr (instant query), None when not answered."""
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())["data"]["result"]
    except (OSError, ValueError, KeyError):
        return None


def empty(base, poke=None, seconds=60):
    """Polls until every dashboard query returns data or seconds pass (poke,
    if given, runs before each round: traffic for the rates); returns the
    queries that never did."""
    deadline = time.monotonic() + seconds
    while True:
        if poke is not None:
            poke()
        missing = [e for e in exprs() if not query(base, e)]
        if not missing or time.monotonic() >= deadline:
            return missing
        time.sleep(1)


def main(argv):
    if len(argv) >= 3 and argv[1] == "config":
        targets = dict(a.split("=", 1) for a in argv[3:])
        open(argv[2], "w").write(config(targets))
        return 0
    if len(argv) in (3, 4) and argv[1] == "check":
        missing = empty(argv[2].rstrip("/"), seconds=float(argv[3]) if len(argv) == 4 else 60)
        for e in exprs():
            print(("no data  " if e in missing else "data     ") + e)
        return 1 if missing else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
