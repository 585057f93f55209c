"""The worked examples of docs/extending.md, checked."""

import collections
import json
import os
import shutil
import subprocess
import sys

from tests.conftest import ROOT
from tests import toy_task
from tests.helpers import bert_flags, typed_ner_data, write_file

# The entries docs/extending.md adds: a relation data set (BioCreative V's
# chemical-induced disease relations) and a NER data set.
NEW_ENTRIES = """
[CDR]
task = "re"
labels = ["cid", "false"]
entity_types = ["CHEMICAL", "DISEASE"]
metric = "micro"
data_dir = "RE/CDR"
published = [{system = "a published system", value = 60.0, source = "a paper"}]

[Toy-NER]
task = "ner"
data_dir = "NER/Toy-NER"
published = []
"""
CDR_ROWS = [
    ("@CHEMICAL$ induced @DISEASE$ in rats .", "cid"),
    ("@CHEMICAL$ was given to patients with @DISEASE$ .", "false"),
    ("@DISEASE$ developed after @CHEMICAL$ .", "cid"),
    ("@CHEMICAL$ and @DISEASE$ were both studied .", "false"),
] * 6
SUITE = """
seeds = [1]
[flags]
max_seq_length = 32
train_batch_size = 8
learning_rate = 3e-3
do_lower_case = false
[re.CDR]
max_steps = 4
[ner.Toy-NER]
max_steps = 4
"""


def _project_copy(root):
  """This project's code, copied: a change to its table touches nothing
  else."""
  shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(
      ".*", "__pycache__", "demo_output", "datasets", "output", "outputs",
      "bench", "tests"))
  return str(root)


def _run(project, args):
  result = subprocess.run([sys.executable] + args, cwd=project, text=True,
                          capture_output=True, timeout=600, env=dict(
                              os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-3000:]
  return result


def test_a_new_data_set_is_one_table_entry_every_tool_accepts(
    tiny_bert_dir, tmp_path):
  project = _project_copy(tmp_path / "project")
  with open(os.path.join(project, "tasks", "datasets.toml"), "a") as f:
    f.write(NEW_ENTRIES)  # the one change
  data = tmp_path / "data"
  (data / "RE" / "CDR").mkdir(parents=True)
  rows = "index\tsentence\tlabel\n" + "".join(
      "%d\t%s\t%s\n" % (i, s, l) for i, (s, l) in enumerate(CDR_ROWS))
  for name in ("train.tsv", "dev.tsv", "test.tsv"):
    write_file(data / "RE" / "CDR" / name, rows)
  typed_ner_data(str(data / "NER" / "Toy-NER"))
  common = ["--max_seq_length=32", "--train_batch_size=8",
            "--learning_rate=3e-3", "--seed=1"] + bert_flags(tiny_bert_dir)

  # run_re.py: its labels, pair types and metric come from the entry.
  re_run = str(tmp_path / "re_cdr")
  _run(project, ["run_re.py", "--task_name=cdr", "--do_train=true",
                 "--do_predict=true", "--num_train_epochs=3",
                 "--data_dir=" + str(data / "RE" / "CDR"),
                 "--output_dir=" + re_run] + common)
  manifest = json.load(open(os.path.join(re_run, "run_manifest.json")))
  assert (manifest["task"], manifest["kind"], manifest["dataset"],
          manifest["labels"]) == ("cdr", "re", "cdr", ["cid", "false"])
  scores = json.load(open(os.path.join(re_run, "re_scores.json")))
  assert sorted(scores) == ["f1 score", "precision", "recall"]  # micro

  # The suite runs both new data sets and reports them beside the
  # published number, micro-F1 first for a micro-scored set.
  out = tmp_path / "suite"
  _run(project, ["run_suite.py", "--suite=" + write_file(
      tmp_path / "s.toml", SUITE), "--bert_dir=" + tiny_bert_dir["dir"],
                 "--data_dir=" + str(data), "--output_dir=" + str(out)])
  report = json.load(open(out / "report.json"))
  entries = {e["dataset"]: e for e in report["datasets"]}
  assert sorted(entries) == ["CDR", "Toy-NER"]
  cdr = entries["CDR"]["metrics"][0]
  assert (cdr["metric"], cdr["n"], cdr["published"]) == (
      "micro_f1", 1, [{"system": "a published system", "value": 60.0,
                       "source": "a paper"}])
  assert entries["Toy-NER"]["metrics"][0]["metric"] == "entity_f1"

  # tag_corpus.py pairs a NER model's Chemical and Disease entities with
  # the new relation model.
  ner_run = str(tmp_path / "ner_typed")
  _run(project, ["run_ner.py", "--do_train=true", "--do_predict=false",
                 "--num_train_epochs=4", "--data_dir=" + str(
                     data / "NER" / "Toy-NER"), "--output_dir=" + ner_run] +
       common)
  manifest = json.load(open(os.path.join(ner_run, "run_manifest.json")))
  assert (manifest["kind"], manifest["dataset"]) == ("ner", "Toy-NER")
  text = write_file(tmp_path / "doc.txt",
                    "aspirin induced renal failure in the BRCA1 carriers\n")
  tagged = tmp_path / "tagged"
  _run(project, ["tag_corpus.py", "--input=" + text, "--format=jsonl",
                 "--models=" + ner_run, "--re_model=" + re_run,
                 "--vocab_file=" + tiny_bert_dir["vocab"],
                 "--output_dir=" + str(tagged)])
  tagged_files = [n for n in os.listdir(tagged) if n.endswith(".jsonl")]
  document = json.loads(open(tagged / tagged_files[0]).readline())
  types = {e["type"] for e in document["annotations"]}
  assert {"Chemical", "Disease"} <= types, types
  considered = json.load(open(tagged / "manifest.json"))["re_model"]
  assert considered["run_manifest"]["task"] == "cdr"
  assert all(r["type"] in ("CID",) for r in document["relations"])


def _first_token_head(num_labels):
  """A toy head: a classifier on the first token's output, no pooler."""
  import tensorflow.compat.v1 as tf
  from finetuning import estimator as est

  def logits_of(model):
    first = model.get_sequence_output()[:, 0, :]
    w = tf.get_variable("toy/kernel", [num_labels, first.shape[-1]],
                        initializer=tf.truncated_normal_initializer(
                            stddev=0.02))
    b = tf.get_variable("toy/bias", [num_labels],
                        initializer=tf.zeros_initializer())
    return tf.nn.bias_add(tf.matmul(first, w, transpose_b=True), b)

  def head_fn(model, features, is_training):
    del is_training
    logits = logits_of(model)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=features["label_ids"], logits=logits))
    return est.HeadOutput(loss, {"probabilities": tf.nn.softmax(logits)})

  def serving(model, num_labels):
    del num_labels
    return {"first_token_logits": logits_of(model)}

  return head_fn, serving


def test_a_new_head_is_one_entry_and_exports(tiny_bert_dir, tmp_path,
                                             monkeypatch):
  import tensorflow.compat.v1 as tf
  from safetensors.numpy import load_file
  import export_model
  from finetuning import driver
  from finetuning import heads
  from tests.test_driver import ParityTask, _data
  head = heads.Head(
      "first_token", lambda n: _first_token_head(n)[0],
      lambda model, n: _first_token_head(n)[1](model, n),
      "BertForSequenceClassification",
      {"toy/kernel": "classifier.weight", "toy/bias": "classifier.bias"},
      uses_pooler=False)
  registry = collections.OrderedDict(heads.HEADS)
  registry["first_token"] = head  # the one entry docs/extending.md adds
  monkeypatch.setattr(heads, "HEADS", registry)

  class FirstTokenParity(ParityTask):
    head = "first_token"
    head_fn = driver.Task.head_fn  # the registry's (ParityTask has its own)

  out = str(tmp_path / "out")
  driver.run(FirstTokenParity(), toy_task.config(
      tiny_bert_dir, out, data_dir=_data(tmp_path), do_train=True,
      do_predict=True, num_train_epochs=1.0, cache_dir=""))
  assert json.load(open(os.path.join(out, "run_manifest.json")))[
      "head"] == "first_token"
  export = tmp_path / "export"
  export_model.export(out, tiny_bert_dir["vocab"], str(export))
  config = json.load(open(str(export / "huggingface" / "config.json")))
  assert config["architectures"] == ["BertForSequenceClassification"]
  assert config["id2label"] == {"0": "even", "1": "odd"}
  tensors = load_file(str(export / "huggingface" / "model.safetensors"))
  reader = tf.train.load_checkpoint(out)
  np_kernel = reader.get_tensor("toy/kernel")
  assert (tensors["classifier.weight"] == np_kernel).all()
  assert not [n for n in tensors if n.startswith("bert.pooler.")]
  with tf.Graph().as_default(), tf.Session() as sess:
    meta = tf.saved_model.loader.load(sess, ["serve"],
                                      str(export / "saved_model"))
    outputs = meta.signature_def["serving_default"].outputs
    assert list(outputs) == ["first_token_logits"]
