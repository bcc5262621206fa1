#!/usr/bin/env python3
"""quality.py - how well each risk model finds the planted launderers
(docs/QUALITY.md). For every dataset and seed it generates transactions with
amlrisk-sim (truth and labels files too), scores them offline with
amlrisk-score for each model, drops the labelled wallets from each ranking and
measures it against the truth (bench/quality/qmetrics.py). Prints markdown
tables; --check exits 1 when flow_exposure/v1 misses its targets on the
default datasets. Stdlib only."""
import argparse
import csv
import datetime
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmetrics  # noqa: E402

TYPOLOGIES = ["fan_out", "fan_in", "cycle", "scatter_gather", "gather_scatter", "peel_chain"]
ROLES = ["source", "mule", "sink"]

# name -> amlrisk-sim flags beyond size and seed
DATASETS = {
    "default": [],
    "camouflage": ["--camouflage"],
    "labels-0.5": ["--label-fraction", "0.5"],
    "labels-0.2": ["--label-fraction", "0.2"],
    "camouflage-labels-0.2": ["--camouflage", "--label-fraction", "0.2"],
}

# name -> (what it is, amlrisk-score flags before --labels FILE TX); None:
# a baseline ranking computed here, not by the scorer
MODELS = {
    "flow": ("flow_exposure/v1 defaults (hops 6, side both, smoothing 1, illicit_ratio 0)",
             ["--model", "flow_exposure/v1"]),
    "hop": ("hop_exposure/v1 defaults, illicit_ratio 0 (weights 1,0.6,0.3, any, within, "
            "degree-normalised)", ["--model", "hop_exposure/v1", "--illicit-ratio", "0"]),
    "hop-seeded": ("hop_exposure/v1 spec defaults as they are: illicit_ratio 0.05 seeds 5% of "
                   "wallets illicit beside the labels", ["--model", "hop_exposure/v1"]),
    "hop-in": ("hop_exposure/v1, direction in, illicit_ratio 0",
               ["--model", "hop_exposure/v1", "--illicit-ratio", "0", "--direction", "in"]),
    "hop-out": ("hop_exposure/v1, direction out, illicit_ratio 0",
                ["--model", "hop_exposure/v1", "--illicit-ratio", "0", "--direction", "out"]),
    "degree": ("baseline: most counterparties (in + out degree) first", None),
    "amount": ("baseline: largest single amount sent or received first", None),
}

TARGETS = {"model": "flow", "dataset": "default", "p@100": 0.80, "ap": 0.65}


def run(cmd):
    """Runs cmd; on failure prints its stderr and exits 2."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("quality: %s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))


def read_truth(path):
    """wallet -> (typology, role, instance) for every planted member."""
    with open(path, newline="") as f:
        return {r["wallet"]: (r["typology"], r["role"], r["instance"]) for r in csv.DictReader(f)}


def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_scores(path):
    """The scorer's rows in its top order: (wallet, degree)."""
    with open(path, newline="") as f:
        return [(r["wallet"], int(r["in_degree"]) + int(r["out_degree"])) for r in csv.DictReader(f)]


def largest_amounts(tx_path):
    """wallet -> the largest amount it sent or received."""
    top = {}
    with open(tx_path, newline="") as f:
        for r in csv.DictReader(f):
            a = float(r["amount"])
            for w in (r["sender"], r["receiver"]):
                if a > top.get(w, -1.0):
                    top[w] = a
    return top


def by_value(values):
    """Wallets by value descending, then wallet id ascending (the scorer's tie rule)."""
    return [w for w, _ in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))]


class Dataset:
    """One generated dataset: files, truth, labels, and what is relevant."""

    def __init__(self, args, name, seed, work):
        self.name, self.seed = name, seed
        d = os.path.join(work, "%s-seed%d" % (name, seed))
        os.makedirs(d, exist_ok=True)
        self.dir = d
        self.tx = os.path.join(d, "tx.csv")
        self.truth_path = os.path.join(d, "truth.csv")
        self.labels_path = os.path.join(d, "labels.txt")
        self.sim_cmd = [os.path.join(args.bin, "amlrisk-sim"), "--wallets", str(args.wallets),
                        "--transactions", str(args.transactions), "--seed", str(seed)] + \
            DATASETS[name] + ["--format", "csv", "--out", self.tx, "--truth", self.truth_path,
                              "--labels-out", self.labels_path, "--quiet"]
        run(self.sim_cmd)
        self.truth = read_truth(self.truth_path)
        self.labelled = set(read_lines(self.labels_path))
        sources = {w for w, (_, role, _) in self.truth.items() if role == "source"}
        if not self.labelled <= sources:
            sys.exit("quality: %s: the labels file lists wallets that are not sources" % d)
        if "--label-fraction" not in DATASETS[name] and self.labelled != sources:
            sys.exit("quality: %s: the labels are not the truth file's sources" % d)
        # relevant: every planted member the analyst does not know yet
        self.relevant = set(self.truth) - self.labelled
        self.groups = {}
        for t in TYPOLOGIES:
            self.groups[t] = {w for w in self.relevant if self.truth[w][0] == t}
        for role in ROLES:
            self.groups["role:" + role] = {w for w in self.relevant if self.truth[w][1] == role}
        # an instance with no labelled member leaves no trace an exposure
        # model can follow: the share of R in instances with one is a ceiling
        seen = {m[0::2] for w, m in self.truth.items() if w in self.labelled}
        self.reachable = sum(1 for w in self.relevant if self.truth[w][0::2] in seen)
        self._amounts = None

    def ranking(self, args, model):
        """The model's ranking of all wallets (labelled ones still in) and the
        command that produced it (None for a baseline)."""
        flags = MODELS[model][1]
        if flags is None:
            if model == "amount":
                if self._amounts is None:
                    self._amounts = largest_amounts(self.tx)
                return by_value(self._amounts), None
            rows = self.scores(args, "hop")[0]
            return by_value(dict(rows)), None
        rows, cmd = self.scores(args, model)
        return [w for w, _ in rows], cmd

    def scores(self, args, model):
        out = os.path.join(self.dir, "scores-%s.csv" % model)
        cmd = [os.path.join(args.bin, "amlrisk-score")] + MODELS[model][1] + \
            ["--labels", self.labels_path, self.tx, "-o", out]
        run(cmd)
        return read_scores(out), cmd


def fmt(v):
    return "-" if v is None else "%.3f" % v


def shown(cmd, args, work):
    """cmd as the report shows it: the work directory as $WORK, the binaries
    by their name."""
    out = []
    for a in cmd:
        if a.startswith(args.bin + os.sep):
            a = os.path.basename(a)
        elif a.startswith(work + os.sep):
            a = "$WORK" + a[len(work):]
        out.append(a)
    return " ".join(out)


def report(args, results, datasets, commands):
    lines = []
    add = lines.append
    add("# Detection quality (bench/quality/quality.py)")
    add("")
    add("%s, %d transactions, %d wallets, seeds %s, git %s" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        args.transactions, args.wallets, ",".join(map(str, args.seeds)), git_rev()))
    add("")
    add("Relevant: the planted members that are not labelled (mules and sinks; with a label "
        "fraction also the unlabelled sources). Labelled wallets are removed from each ranking "
        "first. R = the number of relevant wallets; recall at R equals precision at R.")
    add("")
    add("Models:")
    for m in args.models:
        add("- `%s`: %s" % (m, MODELS[m][0]))
    add("")
    add("## Summary: mean over the seeds (P@100 / AP)")
    add("")
    add("| model | " + " | ".join(args.datasets) + " |")
    add("|---|" + "---|" * len(args.datasets))
    for m in args.models:
        cells = []
        for d in args.datasets:
            rs = [results[(d, s, m)] for s in args.seeds if (d, s, m) in results]
            if not rs:
                cells.append("")
                continue
            cells.append("%.3f / %.3f" % (sum(r["p@100"] for r in rs) / len(rs),
                                          sum(r["ap"] for r in rs) / len(rs)))
        add("| %s | %s |" % (m, " | ".join(cells)))
    for d in args.datasets:
        add("")
        add("## Dataset `%s` (amlrisk-sim %s)" % (d, " ".join(DATASETS[d]) or "defaults"))
        add("")
        add("| seed | members | labelled | R (relevant) | of R in an instance with a labelled member |")
        add("|---:|---:|---:|---:|---:|")
        for s in args.seeds:
            ds = datasets.get((d, s))
            if ds is not None:
                add("| %d | %d | %d | %d | %d (%.3f) |" % (
                    s, len(ds.truth), len(ds.labelled), len(ds.relevant), ds.reachable,
                    ds.reachable / len(ds.relevant)))
        add("")
        groups = TYPOLOGIES + ["role:" + r for r in ROLES]
        add("| model | seed | R | P@100 | P@500 | recall@R | AP | target | " +
            " | ".join(g.replace("role:", "") for g in groups) + " |")
        add("|---|---:|---:|---:|---:|---:|---:|---|" + "---:|" * len(groups))
        for m in args.models:
            for s in args.seeds:
                r = results.get((d, s, m))
                if r is None:
                    continue
                add("| %s | %d | %d | %s | %s | %s | %s | %s | %s |" % (
                    m, s, r["relevant"], fmt(r["p@100"]), fmt(r["p@500"]),
                    fmt(r["recall_at_r"]), fmt(r["ap"]), r.get("target", ""),
                    " | ".join(fmt(r["groups"][g]) for g in groups)))
    add("")
    add("Per typology and role: the share of that group's relevant members found in the first "
        "R places ('-': none relevant).")
    add("")
    add("## Commands (seed %d; the others alike)" % args.seeds[0])
    add("")
    add("```")
    for c in commands:
        add(c)
    add("```")
    return "\n".join(lines) + "\n"


def git_rev():
    try:
        return subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)),
                               "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def csv_list(kind, allowed):
    def parse(s):
        items = [x for x in s.split(",") if x]
        for x in items:
            if allowed is not None and x not in allowed:
                raise argparse.ArgumentTypeError("unknown %s '%s' (known: %s)" % (
                    kind, x, ", ".join(allowed)))
        return items
    return parse


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--bin", default=os.path.join(root, "build", "bin"),
                    help="where amlrisk-sim and amlrisk-score are (default build/bin)")
    ap.add_argument("--work", help="keep the generated files here (default: a temporary "
                    "directory, removed at the end)")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[7, 11, 13])
    ap.add_argument("--transactions", type=int, default=200000)
    ap.add_argument("--wallets", type=int, default=20000)
    ap.add_argument("--datasets", type=csv_list("dataset", DATASETS), default=list(DATASETS))
    ap.add_argument("--models", type=csv_list("model", MODELS), default=list(MODELS))
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if %s misses P@100 >= %.2f or AP >= %.2f on dataset %s" % (
                        TARGETS["model"], TARGETS["p@100"], TARGETS["ap"], TARGETS["dataset"]))
    ap.add_argument("-o", "--output", help="also write the report to this file")
    args = ap.parse_args()

    args.bin = os.path.abspath(args.bin)
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="amlrisk-quality-"))
    results, datasets, commands, missed = {}, {}, [], []
    try:
        for d in args.datasets:
            for s in args.seeds:
                ds = datasets[(d, s)] = Dataset(args, d, s, work)
                if s == args.seeds[0]:
                    commands.append(shown(ds.sim_cmd, args, work))
                for m in args.models:
                    ranking, cmd = ds.ranking(args, m)
                    if cmd is not None and s == args.seeds[0] and d == args.datasets[0]:
                        commands.append(shown(cmd, args, work))
                    r = qmetrics.evaluate(qmetrics.labelled_removed(ranking, ds.labelled),
                                          ds.relevant, ds.groups)
                    if m == TARGETS["model"] and d == TARGETS["dataset"]:
                        ok = r["p@100"] >= TARGETS["p@100"] and r["ap"] >= TARGETS["ap"]
                        r["target"] = "met" if ok else "**missed**"
                        if not ok:
                            missed.append("%s seed %d: P@100 %.3f, AP %.3f" % (d, s, r["p@100"],
                                                                             r["ap"]))
                    results[(d, s, m)] = r
                    print("quality: %s seed %d %s: P@100 %.3f AP %.3f" % (d, s, m, r["p@100"],
                                                                       r["ap"]), file=sys.stderr)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    text = report(args, results, datasets, commands)
    sys.stdout.write(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    if args.check and missed:
        print("quality: %s misses its targets (P@100 >= %.2f, AP >= %.2f): %s" % (
            TARGETS["model"], TARGETS["p@100"], TARGETS["ap"], "; ".join(missed)), file=sys.stderr)
        return 1
    if args.check and not any(m == TARGETS["model"] and d == TARGETS["dataset"]
                              for d, _, m in results):
        print("quality: --check needs dataset %s and model %s" % (TARGETS["dataset"],
                                                                 TARGETS["model"]), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
