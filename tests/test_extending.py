"""The worked examples of docs/extending.md, checked."""

import collections
import json
import os

from biocodes import re_datasets
from biocodes import re_eval
from tests import toy_task
from tests.helpers import write_file

DDI = re_datasets.Dataset("ddi", ["advise", "effect", "int", "mechanism",
                                  "false"], ("DRUG", "DRUG"),
                          re_datasets.MICRO)
SENTENCES = [
    ("@DRUG$ increases the plasma level of @DRUG$ .", "mechanism"),
    ("Avoid giving @DRUG$ with @DRUG$ .", "advise"),
    ("@DRUG$ potentiates the sedation of @DRUG$ .", "effect"),
    ("@DRUG$ interacts with @DRUG$ .", "int"),
    ("@DRUG$ and @DRUG$ were both given .", "false"),
]


def test_a_new_re_data_set_is_one_row(tiny_bert_dir, tmp_path, monkeypatch):
  import run_re
  from finetuning import driver
  rows = collections.OrderedDict(re_datasets.DATASETS)
  rows["ddi"] = DDI  # the one row docs/extending.md adds
  monkeypatch.setattr(re_datasets, "DATASETS", rows)
  monkeypatch.setattr(re_datasets, "ENTITY_TYPES",
                      re_datasets.ENTITY_TYPES + ["DRUG"])
  data = tmp_path / "ddi"
  data.mkdir()
  train = SENTENCES * 4
  write_file(data / "train.tsv", "".join("%s\t%s\n" % r for r in train))
  write_file(data / "dev.tsv", "")
  write_file(data / "test.tsv", "index\tsentence\tlabel\n" + "".join(
      "%d\t%s\t%s\n" % (i, s, l) for i, (s, l) in enumerate(SENTENCES)))
  raw = write_file(tmp_path / "raw.jsonl", json.dumps({
      "text": "Aspirin raises warfarin levels.", "entities": [
          {"start": 0, "end": 7, "type": "drug"},
          {"start": 15, "end": 23, "type": "drug"}]}) + "\n")
  out = str(tmp_path / "out")
  config = toy_task.config(
      tiny_bert_dir, out, data_dir=str(data), task_name="ddi", do_train=True,
      do_predict=True, num_train_epochs=1.0, cache_dir="", max_seq_length=32,
      task=run_re.ReOptions(raw_text_file=raw))
  driver.run(run_re.ReTask.of_config(config), config)
  manifest = json.load(open(os.path.join(out, "run_manifest.json")))
  assert manifest["task"] == "ddi" and manifest["labels"] == DDI.labels
  probabilities = [[float(x) for x in l.split("\t")] for l in
                   open(os.path.join(out, "test_results.tsv"))]
  assert len(probabilities) == 5 and all(len(p) == 5 for p in probabilities)
  # Scored with micro-F1 over the four interaction types, as ChemProt.
  scores = json.load(open(os.path.join(out, "re_scores.json")))
  expected, _ = re_eval.score(probabilities, [l for _, l in SENTENCES], DDI)
  assert scores == dict(expected)
  assert sorted(scores) == ["f1 score", "precision", "recall"]
  # Raw-text RE pairs the two DRUG entities.
  pairs = [json.loads(l) for l in
           open(os.path.join(out, "raw_re_predictions.jsonl"))]
  assert [p["masked"] for p in pairs] == ["@DRUG$ raises @DRUG$ levels."]
  assert sorted(pairs[0]["probabilities"]) == sorted(DDI.labels)


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
