"""flow_ref.py - an independent implementation of the risk model
flow_exposure/v1, written from its contract (spec/flow_exposure.md) alone,
for the end-to-end test: plain dictionaries, the synchronous recurrence as the
spec states it, no code shared with the engine.

    scores = flow_scores(txs, illicit, hops=6, side="both", smoothing=1.0)

txs are (sender, receiver, amount) of the covered transactions, illicit the
set S; the result maps every wallet (node) to its risk_score,
received_exposure, sent_exposure, in_degree, out_degree, is_illicit and the
per-hop lists received (R_1..R_K) and sent (S_1..S_K)."""
from collections import defaultdict

SIDES = ("both", "received", "sent")


def flow_scores(txs, illicit, hops=6, side="both", smoothing=1.0):
    if not 1 <= hops <= 32 or side not in SIDES or not smoothing >= 0:
        raise ValueError("flow_exposure/v1: hops in [1, 32], side both|received|sent, "
                         "smoothing >= 0")
    nodes = set()
    a = defaultdict(float)  # A(u, v), u != v: the total amount u sent v
    total, moved = 0.0, 0
    for s, r, amount in txs:
        nodes.add(s)
        nodes.add(r)
        if s == r:
            continue  # a self-transfer carries no value; the wallet is still a node
        a[(s, r)] += amount  # a zero amount still makes the edge
        total += amount
        moved += 1
    senders_of, receivers_of = defaultdict(list), defaultdict(list)
    recv, sent = defaultdict(float), defaultdict(float)
    for (u, v), x in a.items():
        senders_of[v].append((u, x))
        receivers_of[u].append((v, x))
        recv[v] += x
        sent[u] += x
    mean = total / moved if moved else 0.0
    c = smoothing * mean

    def step(prev, links, value):
        nxt = {}
        for v in nodes:
            if v in illicit:
                nxt[v] = 1.0
            elif value[v] + c == 0:
                nxt[v] = 0.0
            else:
                nxt[v] = sum(x * prev[u] for u, x in links[v]) / (value[v] + c)
        return nxt

    r_k = {v: 1.0 if v in illicit else 0.0 for v in nodes}
    s_k = dict(r_k)
    r_hist, s_hist = defaultdict(list), defaultdict(list)
    for _ in range(hops):
        r_k, s_k = step(r_k, senders_of, recv), step(s_k, receivers_of, sent)
        for v in nodes:
            r_hist[v].append(r_k[v])
            s_hist[v].append(s_k[v])
    out = {}
    for v in nodes:
        rec, snt = r_k[v], s_k[v]
        score = rec + snt if side == "both" else rec if side == "received" else snt
        out[v] = dict(risk_score=score, received_exposure=rec, sent_exposure=snt,
                      in_degree=len(senders_of[v]), out_degree=len(receivers_of[v]),
                      is_illicit=v in illicit, received=r_hist[v], sent=s_hist[v])
    return out


def close(got, want):
    """The spec's tolerance: 1e-9 relative, 1e-12 absolute near 0."""
    return got is not None and abs(got - want) <= max(1e-9 * max(abs(got), abs(want)), 1e-12)


def _self_test():
    """The spec's hand-checkable example (flow-example-*): A receives 12.5
    from the illicit X and 30 from the clean B, so with no smoothing
    R_1(A) = 12.5 / 42.5; and its vector values with smoothing 1."""
    txs = [("X", "A", 10.0), ("B", "A", 30.0), ("A", "C", 20.0), ("A", "D", 20.0),
           ("C", "E", 5.0), ("D", "D", 3.0), ("E", "X", 1.0), ("F", "G", 0.0),
           ("X", "A", 2.5)]
    s0 = flow_scores(txs, {"X"}, hops=3, smoothing=0.0)
    assert close(s0["A"]["received"][0], 12.5 / 42.5)
    assert close(s0["C"]["risk_score"], 1.2941176470588236)
    assert s0["D"]["out_degree"] == 0 and s0["G"]["in_degree"] == 1
    s1 = flow_scores(txs, {"X"})
    assert close(s1["A"]["risk_score"], 0.24347981502822288)
    assert close(s1["E"]["sent_exposure"], 0.08290155440414508)
    assert close(s1["B"]["sent"][3], 0.007384537953197271) and s1["B"]["sent"][2] == 0
    assert s1["X"]["risk_score"] == 2.0 and s1["F"]["risk_score"] == 0.0


if __name__ == "__main__":
    _self_test()
    print("flow_ref: the spec's example reproduced")
