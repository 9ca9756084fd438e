#!/usr/bin/env python3
"""Measure pitchfork's detection and false positives on a labelled corpus.

Usage: tools/measure.py [--bin PATH] [--config FILE] [--show N] [--tags] CORPUS_DIR...

CORPUS_DIR is either a folder with a labels.tsv (columns path, label; the
label is `pitch`, `legit` or anything else) or a folder with `pitch/` and
`legit/` subfolders (the project's own tests/corpus). Runs `pitchfork check
--format json` once over each folder and prints, per label, how many
messages were flagged, then the misses and false positives with their tests.
With several folders (new corpus batches, scored blind before
`tools/corpus-split.py` merges them), each gets its counts and the totals
follow. `--tags` adds the pitches flagged by language and by each tag of
the labels.tsv `language` and `tags` columns.
Exits 2 when a corpus is absent, so a missing corpus is never read as a
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
            return {os.path.normpath(os.path.join(corpus, r["path"])): r for r in rows}
    labels = {}
    for label in ("pitch", "legit"):
        folder = os.path.join(corpus, label)
        for root, _, files in os.walk(folder):
            for name in files:
                if name.endswith(".eml"):
                    labels[os.path.normpath(os.path.join(root, name))] = {"label": label}
    return labels


def measure(args, corpus, by_label, tags, wrong):
    """Scores one corpus into the counts; 2 when it cannot be measured."""
    if not os.path.isdir(corpus):
        print(f"corpus {corpus} is absent: nothing measured", file=sys.stderr)
        return 2
    labels = labels_for(corpus)
    if not labels:
        print(f"corpus {corpus} has no labelled .eml files: nothing measured", file=sys.stderr)
        return 2
    cmd = [args.bin, "check", "--format", "json"]
    if args.config:
        cmd += ["--config", args.config]
    out = subprocess.run(cmd + [corpus], capture_output=True, text=True)
    if out.returncode == 2:
        print(out.stderr, file=sys.stderr)
        return 2
    for v in (json.loads(line) for line in out.stdout.splitlines()):
        row = labels.get(os.path.normpath(v["path"]))
        if row is None:
            continue
        label = row["label"]
        flagged = v["verdict"] == "pitch"
        total, hits = by_label.get(label, (0, 0))
        by_label[label] = (total + 1, hits + flagged)
        if label == "pitch":
            kinds = [f"language {row.get('language') or '?'}"]
            kinds += [tag for tag in row.get("tags", "").split(",") if tag not in ("", "-")]
            for kind in kinds:
                total, hits = tags.get(kind, (0, 0))
                tags[kind] = (total + 1, hits + flagged)
        if flagged != (label == "pitch"):
            wrong.append((label, v))
    return 0


def print_counts(by_label, indent=""):
    for label, (total, hits) in sorted(by_label.items()):
        print(f"{indent}{label:12} {hits:5}/{total:<5} flagged ({100.0 * hits / total:.2f}%)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="+")
    parser.add_argument("--bin", default="target/release/pitchfork")
    parser.add_argument("--config")
    parser.add_argument("--show", type=int, default=15)
    parser.add_argument("--tags", action="store_true")
    args = parser.parse_args()
    by_label, tags, wrong = {}, {}, []
    for corpus in args.corpus:
        own = {}
        if measure(args, corpus, own, tags, wrong) == 2:
            return 2
        if len(args.corpus) > 1:
            print(f"{corpus}:")
            print_counts(own, "  ")
        for label, (total, hits) in own.items():
            all_total, all_hits = by_label.get(label, (0, 0))
            by_label[label] = (all_total + total, all_hits + hits)
    if len(args.corpus) > 1:
        print("all:")
    print_counts(by_label)
    if args.tags:
        print("pitches flagged by language and tag:")
        for kind, (total, hits) in sorted(tags.items(), key=lambda item: -item[1][0]):
            print(f"  {kind}: {hits} / {total}")
    for label, v in wrong[: args.show]:
        tests = ",".join(f"{t['name']}={t['score']}" for t in v["tests"])
        kind = "missed" if label == "pitch" else f"flagged {label}"
        print(f"  {kind}: {v['path']} score={v['score']} {tests}")
    if len(wrong) > args.show:
        print(f"  ... and {len(wrong) - args.show} more")
    return 0

if __name__ == "__main__":
    sys.exit(main())
