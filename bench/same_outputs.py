#!/usr/bin/env python
"""Shows that two revisions write byte-identical output files on the same runs.

    python bench/same_outputs.py --before REV [--after REV]

Checks out both revisions (git archive, into a temporary folder), builds one
tiny random BERT and small data sets (slices of ../shared/data and the
synthetic BioASQ fixture of tests/), runs the same commands of run_ner.py
(padded and --bucket_by_length), run_re.py and run_qa.py in each tree with a
fixed --seed, and compares the files the original wrote (token_test.txt,
label_test.txt, NER_result_conll.txt, test_results.tsv, predictions.json,
nbest_predictions.json, the BioASQ answer files) byte for byte. Prints one
line per file and exits 1 if any differs. --after defaults to the working
tree. Takes about five minutes.
"""

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SHARED = os.environ.get("BIOBERT_SHARED_DIR",
                        os.path.join(os.path.dirname(ROOT), "shared"))

NER_FILES = ["token_test.txt", "label_test.txt", "NER_result_conll.txt",
             "raw_text_predictions.jsonl"]
RE_FILES = ["test_results.tsv"]
QA_FILES = ["predictions.json", "nbest_predictions.json",
            "BioASQform_BioASQ-answer.json",
            "WithProb_BioASQform_BioASQ-answer.json"]


def export_tree(rev, dest):
  """The files of `rev` (or of the working tree for None) in `dest`."""
  os.makedirs(dest)
  if rev is None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True).stdout.split(b"\0")
    for name in files:
      if not name:
        continue
      src = os.path.join(ROOT, name.decode())
      if os.path.isfile(src):
        os.makedirs(os.path.dirname(os.path.join(dest, name.decode())),
                    exist_ok=True)
        shutil.copy2(src, os.path.join(dest, name.decode()))
    return
  archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True,
                           capture_output=True).stdout
  subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)


def slice_sentences(src, dst, n):
  with open(src, encoding="utf-8") as f:
    sentences = [s for s in f.read().split("\n\n") if s.strip()][:n]
  with open(dst, "w", encoding="utf-8") as f:
    f.write("\n\n".join(s.strip("\n") for s in sentences) + "\n")


def make_inputs(work):
  """Tiny BERT, NER/RE/QA data; returns the paths."""
  import tensorflow.compat.v1 as tf
  tf.disable_v2_behavior()
  from tests import tiny_bert
  from tests import bioasq_fixture
  import pathlib
  bert = tiny_bert.write_tiny_bert(os.path.join(work, "bert"),
                                   words=tiny_bert.NCBI_WORDS)
  ncbi = os.path.join(SHARED, "data", "NER", "NCBI-disease")
  ner = os.path.join(work, "ner")
  os.makedirs(ner)
  slice_sentences(os.path.join(ncbi, "train_dev.tsv"),
                  os.path.join(ner, "train_dev.tsv"), 64)
  slice_sentences(os.path.join(ncbi, "devel.tsv"),
                  os.path.join(ner, "devel.tsv"), 20)
  slice_sentences(os.path.join(ncbi, "test.tsv"),
                  os.path.join(ner, "test.tsv"), 40)
  with open(os.path.join(work, "raw.txt"), "w", encoding="utf-8") as f:
    f.write("BRCA1 mutations cause hereditary breast cancer.\n\n"
            "Patients with ataxia-telangiectasia have a deficiency.\n")
  gad = os.path.join(SHARED, "data", "RE", "GAD", "1")
  re_dir = os.path.join(work, "re")
  os.makedirs(re_dir)
  with open(os.path.join(gad, "train.tsv"), encoding="utf-8") as f:
    train = f.read().splitlines()
  with open(os.path.join(gad, "test.tsv"), encoding="utf-8") as f:
    test = f.read().splitlines()
  with open(os.path.join(re_dir, "train.tsv"), "w", encoding="utf-8") as f:
    f.write("\n".join(train[:96]) + "\n")
  with open(os.path.join(re_dir, "dev.tsv"), "w", encoding="utf-8") as f:
    f.write("\n".join(train[96:120]) + "\n")
  with open(os.path.join(re_dir, "test.tsv"), "w", encoding="utf-8") as f:
    f.write("\n".join(test[:41]) + "\n")
  qa = pathlib.Path(work) / "qa"
  qa.mkdir()
  paths = bioasq_fixture.write(qa)
  return bert, ner, re_dir, paths


def commands(bert, ner, re_dir, qa):
  """(name, script, flags, files to compare) of every run."""
  model = ["--vocab_file=" + bert["vocab"],
           "--bert_config_file=" + bert["config"],
           "--init_checkpoint=" + bert["ckpt"], "--seed=1"]
  ner_flags = ["--do_train=true", "--do_eval=true", "--do_predict=true",
               "--data_dir=" + ner, "--max_seq_length=32",
               "--train_batch_size=8", "--num_train_epochs=4",
               "--learning_rate=3e-3",
               "--raw_text_file=" + os.path.join(os.path.dirname(ner),
                                                 "raw.txt")] + model
  return [
      # Padded named explicitly: trees from before bucketing became the
      # default and after it run the same thing.
      ("ner", "run_ner.py", ner_flags + ["--bucket_by_length=false"],
       NER_FILES),
      ("ner_bucketed", "run_ner.py", ner_flags + ["--bucket_by_length=true"],
       NER_FILES),
      ("re", "run_re.py", ["--task_name=gad", "--do_train=true",
                           "--do_eval=true", "--do_predict=true",
                           "--data_dir=" + re_dir, "--max_seq_length=64",
                           "--train_batch_size=16", "--num_train_epochs=1",
                           "--learning_rate=1e-3", "--do_lower_case=false",
                           "--bucket_by_length=false"]
       + model, RE_FILES),
      ("qa", "run_qa.py", ["--do_train=true", "--do_predict=true",
                           "--train_file=" + qa["train.json"],
                           "--predict_file=" + qa["test.json"],
                           "--golden_file=" + qa["golden.json"],
                           "--max_seq_length=96", "--doc_stride=32",
                           "--max_query_length=24", "--train_batch_size=4",
                           "--num_train_epochs=2", "--learning_rate=1e-3",
                           "--do_lower_case=false",
                           "--bucket_by_length=false"] + model, QA_FILES),
  ]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--before", required=True, help="a git revision")
  parser.add_argument("--after", default=None,
                      help="a git revision (default: the working tree)")
  parser.add_argument("--keep", action="store_true",
                      help="keep the temporary folder and say where it is")
  parser.add_argument("--only", default=None,
                      help="comma-separated names of the commands to run "
                      "(ner, ner_bucketed, re, qa; default: all)")
  args = parser.parse_args()
  work = tempfile.mkdtemp(prefix="same-outputs-")
  trees = {"before": os.path.join(work, "before"),
           "after": os.path.join(work, "after")}
  export_tree(args.before, trees["before"])
  export_tree(args.after, trees["after"])
  inputs = make_inputs(os.path.join(work, "inputs"))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  differ = 0
  wanted = set(args.only.split(",")) if args.only else None
  for name, script, flags, files in commands(*inputs):
    if wanted is not None and name not in wanted:
      continue
    outs = {}
    for side, tree in trees.items():
      out = os.path.join(work, "out", side, name)
      cmd = [sys.executable, script, "--output_dir=" + out,
             "--cache_dir=" + os.path.join(work, "cache", side)] + flags
      r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True,
                         text=True)
      if r.returncode != 0:
        print("%s (%s) failed:\n%s" % (name, side, r.stderr[-3000:]))
        return 1
      outs[side] = out
    for f in files:
      a, b = (os.path.join(outs[s], f) for s in ("before", "after"))
      same = (os.path.isfile(a) and os.path.isfile(b) and
              filecmp.cmp(a, b, shallow=False))
      differ += not same
      print("%-13s %-40s %s" % (name, f, "identical" if same else "DIFFERS"))
  if args.keep:
    print("kept %s" % work)
  else:
    shutil.rmtree(work, ignore_errors=True)
  print("%d files differ" % differ)
  return 1 if differ else 0


if __name__ == "__main__":
  sys.exit(main())
