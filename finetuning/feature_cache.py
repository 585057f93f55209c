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
import signal

import tensorflow.compat.v1 as tf

from finetuning import console
from finetuning import errors
from finetuning import files

FORMAT_VERSION = 2
DEFAULT_CACHE_DIR = os.path.join(
    os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"),
                                                  ".cache")),
    "biobert_finetune")


def cache_key(input_files, vocab_file, do_lower_case, labels, record_format,
              options):
  """A hex key for features of `input_files` under these settings.

  Args:
    input_files: the files the features are built from.
    vocab_file, do_lower_case: the tokenizer.
    labels: the label list, or None.
    record_format: `RecordFormat.describe()` of the records.
    options: JSON-able task settings that change the features.
  """
  parts = {
      "format": FORMAT_VERSION,
      "inputs": [files.file_digest(p) for p in input_files],
      "vocab": files.file_digest(vocab_file),
      "do_lower_case": bool(do_lower_case),
      "labels": list(labels) if labels is not None else None,
      "records": record_format,
      "options": options,
  }
  text = json.dumps(parts, sort_keys=True)
  return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _intact(record, info):
  """Whether `record` holds the `info["num_features"]` records it should."""
  try:
    if os.path.getsize(record) != info.get("record_bytes"):
      return False
    n = 0
    for _ in tf.io.tf_record_iterator(record):
      n += 1
  except (OSError, tf.errors.OpError):
    return False
  return n == info.get("num_features")


def _read_cached(record, meta):
  """The info of a cache entry, or None when it is missing or damaged."""
  if not (os.path.isfile(record) and os.path.isfile(meta)):
    return None
  try:
    with open(meta, encoding="utf-8") as f:
      info = json.load(f)
  except (OSError, ValueError):
    info = None
  if not isinstance(info, dict) or not _intact(record, info):
    errors.warn("cached training features %s are damaged; building them "
                "again" % record)
    return None
  return info


def cached_records(cache_dir, key):
  """(record path, info) of the cache entry `key`, or None; writes nothing.

  Args:
    cache_dir: the cache directory, or "" (no cache: always None).
    key: from `cache_key`.
  """
  if not cache_dir:
    return None
  record = os.path.join(cache_dir, key + ".tf_record")
  info = _read_cached(record, os.path.join(cache_dir, key + ".json"))
  if info is None:
    return None
  console.say("Using cached training features %s (%d features; "
              "tokenization skipped)" % (record, info["num_features"]))
  return record, info


def store_records(cache_dir, key, features, info, record_format, output_dir):
  """Writes built features to the cache (or the output dir); returns
  (record path, info with "num_features").

  Args:
    cache_dir: the cache directory, or "" to write train.tf_record into
      `output_dir` without caching.
    key: from `cache_key`.
    features: unpadded feature dicts.
    info: a JSON-able dict of counts to keep with them.
    record_format: the `records.RecordFormat` to write.
    output_dir: the run's output dir.
  """
  if cache_dir:
    os.makedirs(cache_dir, exist_ok=True)
    record = os.path.join(cache_dir, key + ".tf_record")
  else:
    record = os.path.join(output_dir, "train.tf_record")
  info = dict(info, num_features=record_format.write(features, record))
  if cache_dir:
    info["record_bytes"] = os.path.getsize(record)
    files.atomic_write(os.path.join(cache_dir, key + ".json"),
                       json.dumps(info, indent=2) + "\n")
    console.say("Cached training features in %s" % record)
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
    # Ctrl-C on a terminal reaches every process of the group: the workers
    # leave it to the parent, which stops them and says it once.
    with multiprocessing.get_context("fork").Pool(
        processes, initializer=signal.signal,
        initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
      return pool.map(_run_chunk, chunks)
  finally:
    _TASK = None
