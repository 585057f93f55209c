#!/usr/bin/env python
"""NER speed of a BERT-base config on this machine (random weights).

    python bench/ner_speed.py [--work /tmp/ner_bench] [--train 120] [--predict 1000]
                              [--padded]

Trains on the first --train sentences of NCBI-disease train_dev.tsv and
predicts the first --predict sentences of its test.tsv (batch 8 for both, as
in the NER command of the original BioBERT README at --max_seq_length=128),
then prints seconds per 100 training examples and per 1000 predicted
sentences (read from the logs, start-up excluded) as JSON. The command is
that of the original README, so it runs with this project's defaults
(length bucketing); --padded adds --bucket_by_length=false, the original's
batches.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import predicted  # noqa: E402
from bench.common import slice_sentences  # noqa: E402
from bench.common import step_rates  # noqa: E402
from bench.common import trained  # noqa: E402
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "NER",
                    "NCBI-disease")


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--work", default="/tmp/ner_bench")
  p.add_argument("--train", type=int, default=120)
  p.add_argument("--predict", type=int, default=1000)
  p.add_argument("--hidden", type=int, default=768)
  p.add_argument("--layers", type=int, default=12)
  p.add_argument("--padded", action="store_true",
                 help="the original's padded batches (--bucket_by_length=false)")
  args = p.parse_args()
  import tensorflow.compat.v1 as tf
  tf.disable_v2_behavior()
  from tests import tiny_bert
  bert = os.path.join(args.work, "bert")
  if not os.path.exists(os.path.join(bert, "model.ckpt.index")):
    tiny_bert.write_tiny_bert(bert, words=tiny_bert.NCBI_WORDS,
                              hidden_size=args.hidden,
                              num_layers=args.layers,
                              num_heads=max(1, args.hidden // 64),
                              intermediate_size=4 * args.hidden)
  data = os.path.join(args.work, "data")
  os.makedirs(data, exist_ok=True)
  slice_sentences(os.path.join(DATA, "train_dev.tsv"),
                  os.path.join(data, "train_dev.tsv"), args.train)
  slice_sentences(os.path.join(DATA, "test.tsv"),
                  os.path.join(data, "test.tsv"), args.predict)
  out = os.path.join(args.work, "out")
  subprocess.run(["rm", "-rf", out])
  common = ["--vocab_file=%s/vocab.txt" % bert,
            "--bert_config_file=%s/bert_config.json" % bert,
            "--init_checkpoint=%s/model.ckpt" % bert, "--data_dir=" + data,
            "--output_dir=" + out, "--max_seq_length=128",
            "--train_batch_size=8", "--predict_batch_size=8",
            "--log_every_n_steps=5"] + (
                ["--bucket_by_length=false"] if args.padded else [])
  results = {}
  for phase, extra in [("train", ["--do_train=true", "--do_predict=false",
                                  "--num_train_epochs=1"]),
                       ("predict", ["--do_train=false", "--do_predict=true"])]:
    t0 = time.time()
    proc = subprocess.run([sys.executable, "run_ner.py"] + common + extra,
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode:
      sys.exit(proc.stderr[-3000:])
    results[phase + "_wall_s"] = round(wall, 1)
    text = proc.stdout + proc.stderr
    if phase == "train":
      rates = step_rates(text)
      if not rates:  # a run shorter than one progress interval
        _, examples, seconds = trained(text)
        rates = [examples / seconds]
      rate = rates[-1]
      results["train_examples_per_s"] = rate
      results["train_s_per_100_examples"] = round(100 / rate, 1)
    else:
      n, rate = predicted(text)
      results["predict_s"] = round(n / rate, 2)
  if results.get("predict_s"):
    results["predict_s_per_1000_sentences"] = round(
        results["predict_s"] * 1000 / args.predict, 1)
  results.update(hidden=args.hidden, layers=args.layers,
                 train_sentences=args.train, predict_sentences=args.predict)
  print(json.dumps(results, indent=2))


if __name__ == "__main__":
  main()
