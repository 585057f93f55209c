"""Training features built once: a TFRecord cache and multi-core tokenization.

The training TFRecord of a run is stored under a key made of everything it
depends on (the input file's content, the vocabulary's content, casing,
max_seq_length, the label list, task options), so a re-run, or another run
on the same data and vocabulary, skips tokenization. Changing any of these
(a different vocab, say) gives a new key and new features.
"""

import hashlib
import json
import multiprocessing
import os

import tensorflow.compat.v1 as tf

from finetuning import errors
from finetuning import records

FORMAT_VERSION = 1
DEFAULT_CACHE_DIR = os.path.join(
    os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"),
                                                  ".cache")),
    "biobert_finetune")


def file_digest(path):
  """SHA-256 of a file's bytes."""
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def cache_key(input_files, vocab_file, do_lower_case, max_seq_length, labels,
              **options):
  """A hex key for features of `input_files` under these settings."""
  parts = {
      "format": FORMAT_VERSION,
      "inputs": [file_digest(p) for p in input_files],
      "vocab": file_digest(vocab_file),
      "do_lower_case": bool(do_lower_case),
      "max_seq_length": int(max_seq_length),
      "labels": list(labels) if labels is not None else None,
      "options": options,
  }
  text = json.dumps(parts, sort_keys=True)
  return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def training_records(cache_dir, key, build, lengths, bucketed, output_dir):
  """The training TFRecord for `key`, built by `build()` only when needed.

  Args:
    cache_dir: the cache directory, or "" to write into `output_dir`
      without caching.
    key: from `cache_key` (include `bucketed` in it).
    build: returns (features, info): feature dicts and a JSON-able dict of
      counts to keep with them.
    lengths: feature lengths (for trimming when `bucketed`).
    bucketed: store the features unpadded.
    output_dir: the run's output dir.

  Returns:
    (record path, info dict with "num_features" added).
  """
  if cache_dir:
    os.makedirs(cache_dir, exist_ok=True)
    record = os.path.join(cache_dir, key + ".tf_record")
    meta = os.path.join(cache_dir, key + ".json")
    if os.path.isfile(record) and os.path.isfile(meta):
      with open(meta, encoding="utf-8") as f:
        info = json.load(f)
      tf.logging.info("Using cached training features %s (%d features; "
                      "tokenization skipped)", record, info["num_features"])
      return record, info
  else:
    record = os.path.join(output_dir, "train.tf_record")
    meta = None
  features, info = build()
  if bucketed:
    features = (records.trim_padding(f, lengths) for f in features)
  info = dict(info, num_features=records.write_features(features, record))
  if meta:
    errors.atomic_write(meta, json.dumps(info, indent=2) + "\n")
    tf.logging.info("Cached training features in %s", record)
  return record, info


_TASK = None


def _run_chunk(bounds):
  fn, items = _TASK
  return fn(items[bounds[0]:bounds[1]])


def parallel_chunks(fn, items, processes=None, min_items=1000):
  """[fn(chunk) for chunk in chunks of items], on all cores.

  Workers are forked, so `fn` may be any callable (a closure holding the
  tokenizer); only the results travel back. Small inputs run in-process.
  """
  global _TASK
  processes = processes or os.cpu_count() or 1
  n = len(items)
  if processes <= 1 or n < min_items:
    return [fn(items)]
  size = -(-n // processes)
  chunks = [(i, min(n, i + size)) for i in range(0, n, size)]
  _TASK = (fn, items)
  try:
    with multiprocessing.get_context("fork").Pool(processes) as pool:
      return pool.map(_run_chunk, chunks)
  finally:
    _TASK = None
