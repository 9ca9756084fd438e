#!/usr/bin/env python3
"""Measure pitchfork's detection and false positives on a labelled corpus.

Usage: tools/measure.py [--bin PATH] [--config FILE] [--show N] CORPUS_DIR

CORPUS_DIR is either a folder with a labels.tsv (columns path, label; the
label is `pitch`, `legit` or anything else) or a folder with `pitch/` and
`legit/` subfolders (the project's own tests/corpus). Runs `pitchfork check
--format json` once over the whole folder and prints, per label, how many
messages were flagged, then the misses and false positives with their tests.
Exits 2 when the corpus is absent, so a missing corpus is never read as a
perfect score.
"""
import argparse
import csv
import json
import os
import subprocess
import sys


def labels_for(corpus):
    tsv = os.path.join(corpus, "labels.tsv")
    if os.path.exists(tsv):
        with open(tsv, newline="") as f:
            rows = csv.DictReader(f, delimiter="\t")
            return {os.path.normpath(os.path.join(corpus, r["path"])): r["label"] for r in rows}
    labels = {}
    for label in ("pitch", "legit"):
        folder = os.path.join(corpus, label)
        for root, _, files in os.walk(folder):
            for name in files:
                if name.endswith(".eml"):
                    labels[os.path.normpath(os.path.join(root, name))] = label
    return labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("--bin", default="target/release/pitchfork")
    parser.add_argument("--config")
    parser.add_argument("--show", type=int, default=15)
    args = parser.parse_args()
    if not os.path.isdir(args.corpus):
        print(f"corpus {args.corpus} is absent: nothing measured", file=sys.stderr)
        return 2
    labels = labels_for(args.corpus)
    if not labels:
        print(f"corpus {args.corpus} has no labelled .eml files: nothing measured", file=sys.stderr)
        return 2
    cmd = [args.bin, "check", "--format", "json"]
    if args.config:
        cmd += ["--config", args.config]
    out = subprocess.run(cmd + [args.corpus], capture_output=True, text=True)
    if out.returncode == 2:
        print(out.stderr, file=sys.stderr)
        return 2
    verdicts = [json.loads(line) for line in out.stdout.splitlines()]
    by_label = {}
    wrong = []
    for v in verdicts:
        label = labels.get(os.path.normpath(v["path"]))
        if label is None:
            continue
        flagged = v["verdict"] == "pitch"
        total, hits = by_label.get(label, (0, 0))
        by_label[label] = (total + 1, hits + flagged)
        if flagged != (label == "pitch"):
            wrong.append((label, v))
    for label, (total, hits) in sorted(by_label.items()):
        print(f"{label:12} {hits:5}/{total:<5} flagged ({100.0 * hits / total:.2f}%)")
    for label, v in wrong[: args.show]:
        tests = ",".join(f"{t['name']}={t['score']}" for t in v["tests"])
        kind = "missed" if label == "pitch" else f"flagged {label}"
        print(f"  {kind}: {v['path']} score={v['score']} {tests}")
    if len(wrong) > args.show:
        print(f"  ... and {len(wrong) - args.show} more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
