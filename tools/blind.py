#!/usr/bin/env python3
"""Score new corpus batches blind, before they are merged.

Usage: tools/blind.py [--bin PATH] [--config FILE] [--tags] [--list] BATCH_DIR...

Each BATCH_DIR holds pitch/, legit/, cold/ and a labels.tsv (path, label,
category, language, tags), as `tools/corpus-split.py` reads them. Every
message is scored with `pitchfork check --format json` (built-in
configuration, no state store; `--config` adds its lines, e.g. a
`model_file` to compare). Prints, per batch, the pitches, legitimate
messages and cold sales flagged at the configured flag threshold, then the
totals by label and by English / the seven other languages; `--tags` adds
the pitches flagged by tag, `--list` every missed pitch and every flagged
legitimate message or cold sale with its score.

Run it on a batch before `tools/corpus-split.py` merges it: once merged, a
batch is in training and no longer measures how the detector does on
writers it has not seen.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter

LABELS = ("pitch", "legit", "cold")


def read_labels(batch):
    path = os.path.join(batch, "labels.tsv")
    try:
        with open(path, newline="") as f:
            return {row["path"]: row for row in csv.DictReader(f, delimiter="\t")}
    except OSError as e:
        sys.exit(f"{path}: {e.strerror}")


def score(binary, config, batch):
    dirs = [os.path.join(batch, label) for label in LABELS
            if os.path.isdir(os.path.join(batch, label))]
    out = subprocess.run(
        [binary, "check", "--config", config, "--format", "json", *dirs],
        capture_output=True, text=True,
    )
    if out.returncode not in (0, 1):
        sys.exit(f"check failed on {batch}: {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("batches", nargs="+", metavar="BATCH_DIR")
    parser.add_argument("--bin", default="target/release/pitchfork")
    parser.add_argument("--config", help="lines added to the configuration")
    parser.add_argument("--tags", action="store_true", help="pitches flagged by tag")
    parser.add_argument("--list", action="store_true", help="misses and false positives")
    args = parser.parse_args()

    base = ""
    if args.config:
        with open(args.config) as f:
            base = f.read().rstrip("\n") + "\n"
    totals, tags, listed = Counter(), Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.toml")
        with open(config, "w") as f:
            f.write('state = ""\n' + base)
        for batch in args.batches:
            rows = read_labels(batch)
            counts = Counter()
            for verdict in score(args.bin, config, batch):
                rel = os.path.relpath(verdict["path"], batch)
                row = rows.get(rel)
                if row is None:
                    sys.exit(f"{verdict['path']}: not in {batch}/labels.tsv")
                label, flagged = row["label"], verdict["verdict"] == "pitch"
                language = "English" if row["language"] == "en" else "other languages"
                for key in (label, f"{label}, {language}"):
                    counts[key, "all"] += 1
                    counts[key, "flagged"] += flagged
                if label == "pitch":
                    for tag in filter(None, row["tags"].split(",")):
                        tags[tag, "all"] += 1
                        tags[tag, "flagged"] += flagged
                if flagged != (label == "pitch"):
                    listed.append((verdict["score"], label, verdict["path"]))
            parts = [f"{label} {counts[label, 'flagged']} / {counts[label, 'all']}"
                     for label in LABELS if counts[label, "all"]]
            print(f"{os.path.basename(os.path.normpath(batch))}: {', '.join(parts)}")
            totals.update(counts)
    if len(args.batches) > 1:
        print("all:")
        for key in sorted({key for key, _ in totals}):
            print(f"  {key}: {totals[key, 'flagged']} / {totals[key, 'all']}")
    if args.tags:
        print("pitches flagged by tag:")
        for tag in sorted({tag for tag, _ in tags}, key=lambda t: -tags[t, "all"]):
            print(f"  {tag}: {tags[tag, 'flagged']} / {tags[tag, 'all']}")
    if args.list:
        for score_, label, path in sorted(listed):
            what = "missed" if label == "pitch" else "flagged"
            print(f"{what} {label} {score_:.2f} {path}")


if __name__ == "__main__":
    main()
