#!/usr/bin/env python
"""NER training and prediction speed: padded vs bucketed vs packed vs bf16 / XLA.

    python bench/speed.py [--sizes base,small] [--modes padded,bucketed,...]

For each model size (random weights with a real 30,522-piece WordPiece
vocabulary from ../shared/reference) and each mode, runs run_ner.py on a
slice of ../shared/data/NER/NCBI-disease in a process of its own and
measures training examples/s (steady state: the last two thirds of the
steps; the first third is start-up and first-seen batch shapes),
prediction sentences/s, and the peak resident memory of the process. Prints
a table with the ratios to padded mode and writes bench/results/speed.json.

Modes: padded (the original: every example padded to --max_seq_length=128,
--bucket_by_length=false), bucketed (--bucket_by_length, the default),
bucketed+bf16 (plus --use_fp16, bfloat16 on this CPU), packed
(--pack_sequences), padded+xla (--use_xla; XLA compiles one program per input shape,
so it pairs with fixed padding, not with buckets; by default only for the
small size: `--xla_sizes base,small` adds BERT-base). Prediction runs over
more sentences than training, so that every batch shape of the bucketed
modes recurs (oneDNN builds its kernels once per shape). --memory_b32 reports
the peak memory of BERT-base training at batch 32 (the original BioBERT README's budget is one
12 GB GPU).
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import predicted  # noqa: E402
from bench.common import run_measured  # noqa: E402
from bench.common import slice_sentences as _slice  # noqa: E402
from bench.common import step_rates  # noqa: E402
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
NCBI = os.path.join(SHARED, "data", "NER", "NCBI-disease")
VOCAB = os.path.join(SHARED, "reference", "bert", "vocab_uncased.txt")

SIZES = {"base": dict(hidden_size=768, num_layers=12, num_heads=12,
                      intermediate_size=3072),
         # A smoke run's (tests/test_bench.py).
         "tiny": dict(hidden_size=32, num_layers=2, num_heads=2,
                      intermediate_size=64),
         "small": dict(hidden_size=256, num_layers=4, num_heads=4,
                       intermediate_size=1024)}
MODES = {"padded": ["--bucket_by_length=false"],
         "bucketed": ["--bucket_by_length"],
         "bucketed+bf16": ["--bucket_by_length", "--use_fp16"],
         "packed": ["--pack_sequences"],
         "padded+xla": ["--use_xla", "--bucket_by_length=false"]}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--work", default="/tmp/biobert_speed")
  p.add_argument("--sizes", default="base,small")
  p.add_argument("--modes", default=",".join(MODES))
  p.add_argument("--train_sentences", type=int, default=1024)
  p.add_argument("--predict_sentences", type=int, default=480)
  p.add_argument("--xla_sizes", default="small",
                 help="sizes that also run padded+xla (BERT-base XLA "
                 "compiles for minutes on a CPU)")
  p.add_argument("--steps", type=int, default=18)
  p.add_argument("--batch", type=int, default=8)
  p.add_argument("--memory_b32", action="store_true",
                 help="also measure BERT-base training at batch 32 (memory)")
  p.add_argument("--results", default=os.path.join(ROOT, "bench", "results",
                                                    "speed.json"),
                 help="where the results go (JSON)")
  args = p.parse_args()
  import tensorflow.compat.v1 as tf
  tf.disable_v2_behavior()
  from tests import tiny_bert

  data = os.path.join(args.work, "data")
  os.makedirs(data, exist_ok=True)
  n_train = _slice(os.path.join(NCBI, "train_dev.tsv"),
                   os.path.join(data, "train_dev.tsv"), args.train_sentences)
  _slice(os.path.join(NCBI, "train_dev.tsv"),
         os.path.join(data, "test.tsv"), args.predict_sentences)
  results = []
  for size in args.sizes.split(","):
    model = os.path.join(args.work, "bert_" + size)
    if not os.path.exists(os.path.join(model, "model.ckpt.index")):
      tiny_bert.write_tiny_bert(model, vocab_file=VOCAB, **SIZES[size])
    flags = ["--vocab_file=%s/vocab.txt" % model,
             "--bert_config_file=%s/bert_config.json" % model,
             "--init_checkpoint=%s/model.ckpt" % model,
             "--do_lower_case=true", "--data_dir=" + data,
             "--max_seq_length=128", "--seed=1"]
    epochs = args.steps * args.batch / float(n_train)
    for mode in args.modes.split(","):
      if mode == "padded+xla" and size not in args.xla_sizes.split(","):
        continue
      out = os.path.join(args.work, "out_%s_%s" % (size, mode))
      subprocess.run(["rm", "-rf", out])
      text, _, rss_train = run_measured(
          [sys.executable, "run_ner.py", "--do_train=true",
           "--do_predict=false", "--num_train_epochs=%f" % epochs,
           "--train_batch_size=%d" % args.batch,
           "--log_every_n_steps=%d" % max(1, args.steps // 6),
           "--output_dir=" + out] + flags + MODES[mode])
      # Rates of the logging intervals. The first third of the steps is
      # warm-up: start-up, and (bucketed) the first batch of each new shape,
      # for which oneDNN builds its kernels once. Every interval has the
      # same number of examples, so the rate of the rest is their harmonic
      # mean.
      rates = step_rates(text)
      steady = rates[2:] or rates
      train_rate = round(len(steady) / sum(1.0 / r for r in steady), 2)
      text, _, rss_pred = run_measured(
          [sys.executable, "run_ner.py", "--do_train=false",
           "--do_predict=true", "--predict_batch_size=%d" % args.batch,
           "--output_dir=" + out] + flags + MODES[mode])
      # (The model is built and restored before the timed prediction.)
      _, predict_rate = predicted(text)
      row = {"size": size, "mode": mode, "train_examples_per_s": train_rate,
             # Windows = sentences here: none is over 126 pieces.
             "predict_sentences_per_s": predict_rate,
             "peak_rss_mb": round(max(rss_train, rss_pred))}
      results.append(row)
      print(json.dumps(row), flush=True)
    if size == "base" and args.memory_b32:
      out = os.path.join(args.work, "out_base_b32")
      subprocess.run(["rm", "-rf", out])
      _, _, rss = run_measured(
          [sys.executable, "run_ner.py", "--do_train=true",
           "--do_predict=false", "--num_train_epochs=%f" % (64.0 / n_train),
           "--train_batch_size=32", "--output_dir=" + out] + flags)
      results.append({"size": "base", "mode": "padded, batch 32 (memory)",
                      "peak_rss_mb": round(rss)})
      print(json.dumps(results[-1]), flush=True)

  print()
  print("%-6s %-20s %12s %8s %12s %8s %10s" % (
      "size", "mode", "train ex/s", "ratio", "predict s/s", "ratio",
      "peak MB"))
  base = {r["size"]: r for r in results if r["mode"] == "padded"}
  for r in results:
    if "train_examples_per_s" not in r:
      print("%-6s %-20s %12s %8s %12s %8s %10d" % (
          r["size"], r["mode"], "", "", "", "", r["peak_rss_mb"]))
      continue
    b = base.get(r["size"])
    tr = r["train_examples_per_s"] / b["train_examples_per_s"] if b else 0
    pr = r["predict_sentences_per_s"] / b["predict_sentences_per_s"] if b \
        else 0
    print("%-6s %-20s %12.2f %7.2fx %12.2f %7.2fx %10d" % (
        r["size"], r["mode"], r["train_examples_per_s"], tr,
        r["predict_sentences_per_s"], pr, r["peak_rss_mb"]))
  os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
  with open(args.results, "w") as f:
    json.dump(results, f, indent=2)


if __name__ == "__main__":
  main()
