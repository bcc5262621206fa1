#!/usr/bin/env python3
"""planted_top.py - for `make demo`: how many of each scoring run's first N
unlabelled wallets are planted launderers, i.e. members of the simulator's
truth file that are not labelled (the measure of docs/QUALITY.md, P@N, on the
running platform). Reads the runs through the gateway; stdlib only.

usage: planted_top.py --url http://HOST:PORT --truth truth.csv --labels FILE
                      --run ID [--run ID ...] [--n 100]"""
import argparse
import csv
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "quality"))
import qmetrics  # noqa: E402

TOP_MAX = 1000  # the most /scores/top answers at once


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return json.load(r)
    except (urllib.error.URLError, OSError, ValueError) as e:
        sys.exit("planted_top: GET %s: %s" % (url, e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8000")
    ap.add_argument("--truth", required=True, help="amlrisk-sim --truth file")
    ap.add_argument("--labels", required=True, help="labelled wallets, one a line")
    ap.add_argument("--run", type=int, action="append", required=True, help="run id (repeatable)")
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    with open(args.truth, newline="") as f:
        planted = {r["wallet"] for r in csv.DictReader(f)}
    with open(args.labels) as f:
        labelled = {line.strip() for line in f if line.strip()}
    launderers = planted - labelled
    if not launderers:
        sys.exit("planted_top: no planted member is unlabelled in %s" % args.truth)
    for run in args.run:
        model = get("%s/runs/%d" % (args.url, run)).get("model", "?")
        top = get("%s/scores/top?n=%d&run_id=%d" % (args.url, TOP_MAX, run))["scores"]
        ranking = qmetrics.labelled_removed([row["wallet"] for row in top], labelled)
        if len(ranking) < args.n:
            sys.exit("planted_top: run %d: fewer than %d unlabelled wallets in its top %d" % (
                run, args.n, TOP_MAX))
        found = round(qmetrics.precision_at(ranking, launderers, args.n) * args.n)
        print("%-17s run %d: %3d of its first %d unlabelled wallets are planted launderers" % (
            model, run, found, args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
