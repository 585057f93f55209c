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
  driver.run(run_re.ReTask(), config)
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
