"""qmetrics.py - the detection-quality metrics of docs/QUALITY.md, stdlib only.

A ranking is a list of wallet ids, best first, from which the wallets the model
was given as labelled have already been removed (labelled_removed). Relevant
wallets are the planted members the analyst does not know yet. Every metric is
the textbook one; tests/quality/qmetrics_test.py checks each on rankings whose
answers are worked out by hand."""


def labelled_removed(ranking, labelled):
    """The ranking without the labelled wallets, order kept."""
    return [w for w in ranking if w not in labelled]


def precision_at(ranking, relevant, k):
    """Share of the first k places held by relevant wallets. A ranking shorter
    than k counts the missing places as misses (the denominator stays k)."""
    if k <= 0:
        raise ValueError("k must be positive")
    return sum(1 for w in ranking[:k] if w in relevant) / k


def recall_at(ranking, relevant, k):
    """Share of the relevant wallets found in the first k places."""
    if not relevant:
        raise ValueError("no relevant wallets")
    return sum(1 for w in ranking[:k] if w in relevant) / len(relevant)


def average_precision(ranking, relevant):
    """Mean over the relevant wallets of the precision at the place each is
    found; a relevant wallet the ranking never lists contributes 0."""
    if not relevant:
        raise ValueError("no relevant wallets")
    hits, total = 0, 0.0
    for i, w in enumerate(ranking):
        if w in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / len(relevant)


def evaluate(ranking, relevant, groups, ks=(100, 500)):
    """The report for one ranking: precision at each k, recall at R (R = the
    number of relevant wallets, also called R-precision), average precision,
    and for each named group (a subset of relevant, e.g. one typology's
    members) the share of it found in the first R places."""
    r = len(relevant)
    top_r = set(ranking[:r])
    out = {"relevant": r, "ap": average_precision(ranking, relevant),
           "recall_at_r": recall_at(ranking, relevant, r), "groups": {}}
    for k in ks:
        out["p@%d" % k] = precision_at(ranking, relevant, k)
    for name, members in groups.items():
        if not members <= relevant:
            raise ValueError("group %s holds wallets that are not relevant" % name)
        out["groups"][name] = (len(members & top_r) / len(members)) if members else None
    return out
