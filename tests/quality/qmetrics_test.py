#!/usr/bin/python3
"""qmetrics_test.py - the quality metrics (bench/quality/qmetrics.py) on crafted
rankings whose precision, recall and average precision are worked out by hand,
so the figures in docs/QUALITY.md rest on checked arithmetic."""
import os
import sys
import unittest

SRC = os.environ.get("AMLRISK_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(SRC, "bench", "quality"))
import qmetrics as q  # noqa: E402


class Metrics(unittest.TestCase):
    # places:  1    2    3    4    5    6    7    8    9    10
    ranking = ["a", "x", "b", "y", "z", "c", "u", "v", "w", "t"]
    relevant = {"a", "b", "c", "d"}  # d is never ranked

    def test_precision_at_k(self):
        self.assertEqual(q.precision_at(self.ranking, self.relevant, 1), 1.0)
        self.assertEqual(q.precision_at(self.ranking, self.relevant, 2), 0.5)
        self.assertAlmostEqual(q.precision_at(self.ranking, self.relevant, 3), 2 / 3)
        self.assertEqual(q.precision_at(self.ranking, self.relevant, 10), 0.3)
        # a ranking shorter than k: missing places are misses
        self.assertEqual(q.precision_at(self.ranking, self.relevant, 20), 0.15)
        with self.assertRaises(ValueError):
            q.precision_at(self.ranking, self.relevant, 0)

    def test_recall_at_k(self):
        self.assertEqual(q.recall_at(self.ranking, self.relevant, 4), 0.5)
        self.assertEqual(q.recall_at(self.ranking, self.relevant, 6), 0.75)
        self.assertEqual(q.recall_at(self.ranking, self.relevant, 100), 0.75)
        with self.assertRaises(ValueError):
            q.recall_at(self.ranking, set(), 4)

    def test_average_precision(self):
        # hits at places 1, 3, 6; d missed: (1/1 + 2/3 + 3/6 + 0) / 4
        self.assertAlmostEqual(q.average_precision(self.ranking, self.relevant),
                               (1 + 2 / 3 + 0.5) / 4, places=15)
        # perfect: every relevant wallet first
        self.assertEqual(q.average_precision(["b", "a", "x"], {"a", "b"}), 1.0)
        # worst: relevant ones last of 4
        self.assertAlmostEqual(q.average_precision(["x", "y", "a", "b"], {"a", "b"}),
                               (1 / 3 + 2 / 4) / 2, places=15)
        # none found
        self.assertEqual(q.average_precision(["x", "y"], {"a"}), 0.0)

    def test_labelled_removed(self):
        ranked = ["s1", "a", "s2", "b", "x"]
        self.assertEqual(q.labelled_removed(ranked, {"s1", "s2"}), ["a", "b", "x"])
        # removing the labelled moves relevant wallets up: P@2 goes 0.5 -> 1
        self.assertEqual(q.precision_at(ranked, {"a", "b"}, 2), 0.5)
        self.assertEqual(q.precision_at(q.labelled_removed(ranked, {"s1", "s2"}), {"a", "b"}, 2), 1.0)

    def test_evaluate(self):
        groups = {"fan_out": {"a", "d"}, "cycle": {"b", "c"}, "empty": set()}
        r = q.evaluate(self.ranking, self.relevant, groups, ks=(2, 5))
        self.assertEqual(r["relevant"], 4)
        self.assertEqual(r["p@2"], 0.5)
        self.assertEqual(r["p@5"], 0.4)
        # R = 4: the first four places hold a and b
        self.assertEqual(r["recall_at_r"], 0.5)
        self.assertEqual(r["groups"]["fan_out"], 0.5)  # a of a, d
        self.assertEqual(r["groups"]["cycle"], 0.5)    # b of b, c (c is 6th)
        self.assertIsNone(r["groups"]["empty"])
        self.assertAlmostEqual(r["ap"], (1 + 2 / 3 + 0.5) / 4, places=15)
        with self.assertRaises(ValueError):
            q.evaluate(self.ranking, self.relevant, {"bad": {"x"}})


if __name__ == "__main__":
    unittest.main(verbosity=2)
