#!/usr/bin/env python3
"""K-fold cross-validation of `pitchfork train` on the training split.

Usage: tools/crossval.py [--bin PATH] [--folds K] [--by-batch] [--config FILE] [CORPUS_DIR]

CORPUS_DIR (default tests/corpus/train) holds pitch/, legit/ and cold/.
Each message goes to fold CRC-32(file name) mod K (with --by-batch, of the
batch its name begins with, so a fold is scored by a model that never saw
its writers: the closer measure of mail from new senders); for every fold
a model is trained on the other folds (`pitchfork train`, without categories) and
the fold is scored with it (`pitchfork check --format json`, built-in
configuration otherwise, no state store). `--config` adds its lines to
both, e.g. a `rules_file` to try (it must not set `model`, `model_file` or
`state`). Prints, per label, how many messages scored at or above 4, 5
(the default flag threshold) and 6.

The held-out split is never read. A training change is worth keeping when it
helps here *and* on the held-out split and real mail: without --by-batch the
folds share their writers with the rest of the training split, so this
measures fit to the corpus more than to mail in general.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor

LABELS = ("pitch", "legit", "cold")
THRESHOLDS = (4.0, 5.0, 6.0)


def run_fold(binary, folds_dir, fold, base):
    here = os.path.join(folds_dir, str(fold))
    config = os.path.join(here, "config.toml")
    model = os.path.join(here, "model.json")
    with open(config, "w") as f:
        f.write(base + 'state = ""\nmodel = false\n')
    train = [binary, "train", "--config", config, "--out", model]
    for label in LABELS:
        train += [f"--{label}", os.path.join(here, "train", label)]
    trained = subprocess.run(train, capture_output=True, text=True)
    if trained.returncode != 0:
        sys.exit(f"train failed on fold {fold}: {trained.stderr.strip()}")
    with open(config, "w") as f:
        f.write(base + f'state = ""\nmodel_file = "{model}"\n')
    scores = {}
    for label in LABELS:
        out = subprocess.run(
            [binary, "check", "--config", config, "--format", "json",
             os.path.join(here, "test", label)],
            capture_output=True, text=True,
        )
        if out.returncode not in (0, 1):
            sys.exit(f"check failed on fold {fold}: {out.stderr.strip()}")
        scores[label] = [json.loads(line)["score"] for line in out.stdout.splitlines()]
    return scores


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", default="tests/corpus/train")
    parser.add_argument("--bin", default="target/release/pitchfork")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--config", help="lines added to every fold's configuration")
    parser.add_argument("--by-batch", action="store_true",
                        help="fold by the batch a file name begins with (b12-...)")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.corpus, "pitch")):
        sys.exit(f"{args.corpus}: no pitch/ folder")
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin}: no pitchfork binary (cargo build --release)")
    binary = os.path.abspath(args.bin)
    base = ""
    if args.config:
        with open(args.config) as f:
            base = f.read().rstrip("\n") + "\n"
    with tempfile.TemporaryDirectory(prefix="pitchfork-crossval-") as folds_dir:
        for label in LABELS:
            source = os.path.join(args.corpus, label)
            names = sorted(n for n in os.listdir(source) if n.endswith(".eml")) \
                if os.path.isdir(source) else []
            for fold in range(args.folds):
                for part in ("train", "test"):
                    os.makedirs(os.path.join(folds_dir, str(fold), part, label))
            for name in names:
                key = name.split("-")[0] if args.by_batch else name
                home = zlib.crc32(key.encode()) % args.folds
                for fold in range(args.folds):
                    part = "test" if fold == home else "train"
                    os.symlink(os.path.abspath(os.path.join(source, name)),
                               os.path.join(folds_dir, str(fold), part, label, name))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            results = list(pool.map(
                lambda k: run_fold(binary, folds_dir, k, base),
                range(args.folds)))
    for label in LABELS:
        scores = [s for result in results for s in result[label]]
        counts = ", ".join(
            f">= {t:g}: {sum(s >= t for s in scores)}" for t in THRESHOLDS)
        print(f"{label}: {len(scores)} messages; {counts}")


if __name__ == "__main__":
    main()
