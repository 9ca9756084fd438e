#!/usr/bin/env python3
"""Merge corpus batches into tests/corpus/{train,heldout}/{pitch,legit,cold}.

Usage: tools/corpus-split.py BATCH_DIR... [--legacy DIR]

Each BATCH_DIR holds pitch/, legit/, cold/ and a labels.tsv (path, label,
category, language, tags). A message goes to the held-out split when the
CRC-32 of "BATCH/PATH" is divisible by 5 (about one in five), so the split
is fixed by the names alone and training never sees the held-out files.
Files are moved (not copied) and tests/corpus/labels.tsv is rewritten with
every message of both splits.
"""
import csv
import os
import shutil
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "corpus")


def split_of(key):
    return "heldout" if zlib.crc32(key.encode()) % 5 == 0 else "train"


def read_rows(batch_dir):
    with open(os.path.join(batch_dir, "labels.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def main(args):
    labels_path = os.path.join(ROOT, "labels.tsv")
    rows = []
    if os.path.exists(labels_path):
        with open(labels_path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    for batch_dir in args:
        batch = os.path.basename(os.path.normpath(batch_dir))
        for row in read_rows(batch_dir):
            split = split_of(f"{batch}/{row['path']}")
            name = f"{batch}-{os.path.basename(row['path'])}"
            target = os.path.join(split, row["label"], name)
            os.makedirs(os.path.join(ROOT, split, row["label"]), exist_ok=True)
            shutil.move(os.path.join(batch_dir, row["path"]), os.path.join(ROOT, target))
            rows.append({"path": target, "label": row["label"], "category": row.get("category", "-"),
                         "language": row.get("language", "en"), "tags": row.get("tags", "")})
    rows.sort(key=lambda r: r["path"])
    with open(labels_path, "w", newline="") as f:
        writer = csv.DictWriter(f, ["path", "label", "category", "language", "tags"], delimiter="\t",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} messages listed in {labels_path}")


if __name__ == "__main__":
    main(sys.argv[1:])
