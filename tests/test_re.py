"""Relation extraction: run_re.py, re_eval.py and the fold runner."""

import json
import os

import pytest

from biocodes import re_eval
from tests.conftest import DATA
from tests.helpers import bert_flags, run_tool

GAD = os.path.join(DATA, "RE", "GAD")


def _gad_slice(src_fold, dst, n_train=64, n_test=24):
  os.makedirs(dst, exist_ok=True)
  with open(os.path.join(src_fold, "train.tsv"), encoding="utf-8") as f:
    train = f.read().splitlines()
  # Take both labels into training.
  pos = [l for l in train if l.endswith("\t1")][:n_train // 2]
  neg = [l for l in train if l.endswith("\t0")][:n_train // 2]
  with open(os.path.join(dst, "train.tsv"), "w", encoding="utf-8") as f:
    f.write("\n".join(pos + neg) + "\n")
  with open(os.path.join(src_fold, "test.tsv"), encoding="utf-8") as f:
    test = f.read().splitlines()
  with open(os.path.join(dst, "test.tsv"), "w", encoding="utf-8") as f:
    f.write("\n".join(test[:n_test + 1]) + "\n")
  open(os.path.join(dst, "dev.tsv"), "w").close()
  return test[1:n_test + 1]


def _re_flags(tiny_bert_dir, **kw):
  flags = {"max_seq_length": 48, "train_batch_size": 16,
           "num_train_epochs": 1.0, "learning_rate": 1e-3, "seed": 2,
           "do_lower_case": "false"}
  flags.update(kw)
  return ["--%s=%s" % kv for kv in flags.items()] + bert_flags(tiny_bert_dir)


def test_gad_train_predict_and_score(tiny_bert_dir, tmp_path):
  data = str(tmp_path / "gad")
  test_rows = _gad_slice(os.path.join(GAD, "1"), data)
  out = tmp_path / "out"
  result = run_tool(["run_re.py", "--task_name=gad", "--do_train=true",
                     "--do_eval=true", "--do_predict=true",
                     "--data_dir=" + data, "--output_dir=" + str(out)] +
                    _re_flags(tiny_bert_dir))
  # Empty dev.tsv: a message, no crash, no eval file.
  assert "dev.tsv is empty: nothing to evaluate" in result.stdout
  assert not (out / "eval_results.txt").exists()
  lines = (out / "test_results.tsv").read_text().splitlines()
  assert len(lines) == len(test_rows) == 24
  for line in lines:
    probs = [float(x) for x in line.split("\t")]
    assert len(probs) == 2 and abs(sum(probs) - 1) < 1e-5
  # Long GAD sentences at 48 pieces: counted and reported.
  assert "test sentences are longer than 46 word pieces and were cut" in (
      result.stdout)
  scored = run_tool(["biocodes/re_eval.py",
                     "--output_path=" + str(out / "test_results.tsv"),
                     "--answer_path=" + os.path.join(data, "test.tsv")])
  names = [l.split(" : ")[0] for l in scored.stdout.splitlines()]
  assert names == ["f1 score   ", "recall     ", "precision  ",
                   "specificity"]
  # The printed numbers are those of the module on the same files.
  scores, _ = re_eval.evaluate(str(out / "test_results.tsv"),
                               os.path.join(data, "test.tsv"))
  assert scored.stdout == re_eval.format_scores(scores)


CHEMPROT_TRAIN = [
    ("@CHEMICAL$ inhibits @GENE$ activity in vitro.", "cpr:4"),
    ("@CHEMICAL$ is a substrate of @GENE$.", "cpr:9"),
    ("@GENE$ is upregulated by @CHEMICAL$.", "cpr:3"),
    ("@CHEMICAL$ is an agonist of @GENE$.", "cpr:5"),
    ("@CHEMICAL$ antagonizes @GENE$ signalling.", "cpr:6"),
    ("@CHEMICAL$ was given and @GENE$ was measured.", "false"),
] * 4


def _chemprot_fixture(directory):
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, "train.tsv"), "w") as f:
    f.write("".join("%s\t%s\n" % r for r in CHEMPROT_TRAIN))
  with open(os.path.join(directory, "dev.tsv"), "w") as f:
    f.write("".join("%s\t%s\n" % r for r in CHEMPROT_TRAIN[:6]))
  with open(os.path.join(directory, "test.tsv"), "w") as f:
    f.write("index\tsentence\tlabel\n")
    f.write("".join("%d\t%s\t%s\n" % (i, s, l)
                    for i, (s, l) in enumerate(CHEMPROT_TRAIN[:6])))


def test_chemprot_fixture_end_to_end(tiny_bert_dir, tmp_path):
  data = str(tmp_path / "chemprot")
  _chemprot_fixture(data)
  out = tmp_path / "out"
  run_tool(["run_re.py", "--task_name=chemprot", "--do_train=true",
            "--do_eval=true", "--do_predict=true", "--data_dir=" + data,
            "--output_dir=" + str(out)] +
           _re_flags(tiny_bert_dir, train_batch_size=8))
  keys = [l.split(" = ")[0] for l in
          (out / "eval_results.txt").read_text().splitlines()]
  assert keys == ["eval_accuracy", "eval_loss", "global_step", "loss"]
  assert "global_step = 3\n" in (out / "eval_results.txt").read_text()
  lines = (out / "test_results.tsv").read_text().splitlines()
  assert len(lines) == 6 and all(len(l.split("\t")) == 6 for l in lines)
  manifest = json.loads((out / "run_manifest.json").read_text())
  assert manifest["labels"] == ["cpr:3", "cpr:4", "cpr:5", "cpr:6", "cpr:9",
                                "false"]
  scored = run_tool(["biocodes/re_eval.py", "--task=chemprot",
                     "--output_path=" + str(out / "test_results.tsv"),
                     "--answer_path=" + os.path.join(data, "test.tsv")])
  assert [l.split(" : ")[0] for l in scored.stdout.splitlines()] == [
      "f1 score   ", "recall     ", "precision  "]


def test_unknown_task_exits_2(tiny_bert_dir, tmp_path):
  result = run_tool(["run_re.py", "--task_name=ppi", "--do_train=true",
                     "--data_dir=" + str(tmp_path),
                     "--output_dir=" + str(tmp_path / "o")] +
                    bert_flags(tiny_bert_dir), expect_ok=False)
  assert result.returncode == 2
  assert ("--task_name=ppi: expected a relation data set of "
          "tasks/datasets.toml: ChemProt, ChemProt-BLURB, ") in result.stderr


def _jsonl(path, records):
  path.write_text("".join(json.dumps(r) + "\n" for r in records))
  return str(path)


def test_raw_pairs_masking_and_pairing(tmp_path):
  from tasks import relations
  text = "BRCA1 and TP53 variants raise breast cancer risk."
  records = [
      # Our format: two entities, types in any case.
      {"text": text, "entities": [{"start": 0, "end": 5, "type": "gene"},
                                  {"start": 30, "end": 43,
                                   "type": "Disease"}]},
      # run_ner.py's raw_text_predictions.jsonl: every GENE x DISEASE pair;
      # an untyped entity is not paired.
      {"line": 2, "text": text, "entities": [
          {"start": 0, "end": 5, "text": "BRCA1", "type": "Gene"},
          {"start": 10, "end": 14, "text": "TP53", "type": "Gene"},
          {"start": 30, "end": 43, "text": "breast cancer",
           "type": "Disease"},
          {"start": 44, "end": 48, "text": "risk", "type": None}]},
      {"text": "No entities here.", "entities": []},
  ]
  pairs, n, ignored = relations.read_raw_pairs(
      _jsonl(tmp_path / "raw.jsonl", records), ("GENE", "DISEASE"))
  assert (n, ignored) == (3, 1)
  assert [(p.line, p.masked) for p in pairs] == [
      (1, "@GENE$ and TP53 variants raise @DISEASE$ risk."),
      (2, "@GENE$ and TP53 variants raise @DISEASE$ risk."),
      (2, "BRCA1 and @GENE$ variants raise @DISEASE$ risk.")]
  chem, _, _ = relations.read_raw_pairs(_jsonl(tmp_path / "c.jsonl", [
      {"text": "Aspirin inhibits COX1.", "entities": [
          {"start": 17, "end": 21, "type": "GENE"},
          {"start": 0, "end": 7, "type": "CHEMICAL"}]}]),
                                     ("CHEMICAL", "GENE"))
  assert chem[0].masked == "@CHEMICAL$ inhibits @GENE$."
  assert [e["text"] for e in chem[0].entities] == ["Aspirin", "COX1"]


@pytest.mark.parametrize("record,message", [
    ({"text": "abc", "entities": [{"start": 1, "end": 9, "type": "GENE"}]},
     "raw.jsonl:1: entities[0]: span 1-9 is not inside the text (0-3)"),
    ({"text": "abcdef", "entities": [{"start": 0, "end": 3, "type": "GENE"},
                                     {"start": 2, "end": 5,
                                      "type": "DISEASE"}]},
     "raw.jsonl:1: entities 'abc' and 'cde' overlap"),
    ({"text": "abc", "entities": [{"start": 0, "end": 1, "type": "SPECIES"}]},
     "raw.jsonl:1: entities[0]: type 'SPECIES' is not one of GENE, DISEASE"),
    ({"text": "abc", "entities": [{"start": 0, "end": 1, "type": "GENE",
                                   "text": "b"}]},
     "raw.jsonl:1: entities[0]: \"text\" 'b' is not what the span holds"),
    ({"sentence": "abc"}, "raw.jsonl:1: expected {\"text\": string"),
])
def test_raw_pairs_bad_input(tmp_path, record, message):
  from tasks import relations
  from finetuning import errors
  with pytest.raises(errors.InputError) as e:
    relations.read_raw_pairs(_jsonl(tmp_path / "raw.jsonl", [record]),
                          ("GENE", "DISEASE"))
  assert message in str(e.value)


def test_raw_text_relation_extraction(tiny_bert_dir, tmp_path):
  data = str(tmp_path / "gad")
  _gad_slice(os.path.join(GAD, "1"), data, 32, 4)
  out = tmp_path / "out"
  run_tool(["run_re.py", "--task_name=gad", "--do_train=true",
            "--data_dir=" + data, "--output_dir=" + str(out)] +
           _re_flags(tiny_bert_dir))
  text = "BRCA1 and TP53 variants raise breast cancer risk."
  raw = _jsonl(tmp_path / "raw.jsonl", [{"text": text, "entities": [
      {"start": 0, "end": 5, "type": "Gene"},
      {"start": 10, "end": 14, "type": "Gene"},
      {"start": 30, "end": 43, "type": "Disease"}]}])
  result = run_tool(["run_re.py", "--task_name=gad",
                     "--raw_text_file=" + raw, "--output_dir=" + str(out)] +
                    _re_flags(tiny_bert_dir))
  lines = [json.loads(l) for l in
           (out / "raw_re_predictions.jsonl").read_text().splitlines()]
  assert [l["masked"] for l in lines] == [
      "@GENE$ and TP53 variants raise @DISEASE$ risk.",
      "BRCA1 and @GENE$ variants raise @DISEASE$ risk."]
  for l in lines:
    assert sorted(l["probabilities"]) == ["0", "1"]
    assert abs(sum(l["probabilities"].values()) - 1) < 1e-5
  assert "Classified 2 entity pairs of 1 lines" in result.stdout


MARKED = [
    ("@ * gene * BRCA1 @ variants raise # ^ disease ^ breast cancer # risk .",
     "1"),
    ("@ * gene * TP53 @ was not linked to # ^ disease ^ asthma # .", "0"),
] * 8


def test_entity_markers_train_and_mark_raw_pairs(tiny_bert_dir, tmp_path):
  data = tmp_path / "marked"
  data.mkdir()
  rows = "".join("%s\t%s\n" % r for r in MARKED)
  (data / "train.tsv").write_text(rows)
  (data / "dev.tsv").write_text("")
  (data / "test.tsv").write_text("index\tsentence\tlabel\n" + "".join(
      "%d\t%s\t%s\n" % (i, s, l) for i, (s, l) in enumerate(MARKED)))
  out = tmp_path / "out"
  base = ["run_re.py", "--task_name=gad", "--data_dir=" + str(data),
          "--output_dir=" + str(out)] + _re_flags(tiny_bert_dir)
  # Marked data without the flag, or masked data with it: file:line, exit 2.
  refused = run_tool(base + ["--do_train=true"], expect_ok=False)
  assert refused.returncode == 2 and not out.exists()
  assert ("error: %s:1: the entities are marked (@ * type * ... @, # ^ type "
          "^ ... #): give --entity_markers=true for such data" % (
              data / "train.tsv")) in refused.stderr
  gad = tmp_path / "gad"
  _gad_slice(os.path.join(GAD, "1"), str(gad), 8, 4)
  refused = run_tool(base[:2] + ["--data_dir=" + str(gad),
                                 "--output_dir=" + str(out),
                                 "--entity_markers=true", "--do_train=true"] +
                     _re_flags(tiny_bert_dir), expect_ok=False)
  assert refused.returncode == 2
  assert "train.tsv:1: expected the two entities marked" in refused.stderr
  # Marked data with the flag: trained, recorded; raw text is marked.
  run_tool(base + ["--do_train=true", "--do_predict=true",
                   "--entity_markers=true"])
  manifest = json.loads((out / "run_manifest.json").read_text())
  assert manifest["training"]["entity_markers"] is True
  raw = tmp_path / "raw.jsonl"
  raw.write_text(json.dumps({"text": "BRCA1 raises cancer risk.",
                             "entities": [
                                 {"start": 0, "end": 5, "type": "gene"},
                                 {"start": 13, "end": 19,
                                  "type": "disease"}]}) + "\n")
  run_tool(["run_re.py", "--task_name=gad", "--output_dir=" + str(out),
            "--raw_text_file=" + str(raw), "--entity_markers=true"] +
           bert_flags(tiny_bert_dir))
  pair = json.loads((out / "raw_re_predictions.jsonl").read_text())
  assert pair["masked"] == ("@ * gene * BRCA1 @ raises # ^ disease ^ cancer "
                            "# risk.")
  # The trained model's way is kept: prediction without the flag is refused.
  refused = run_tool(["run_re.py", "--task_name=gad",
                      "--output_dir=" + str(out),
                      "--raw_text_file=" + str(raw)] +
                     bert_flags(tiny_bert_dir), expect_ok=False)
  assert refused.returncode == 2
  assert ("--entity_markers=false: expected true: the model in %s was "
          "trained with entity markers" % out) in refused.stderr


def test_raw_pairs_are_marked_as_the_model_was_trained(monkeypatch):
  from tasks import relations
  seen = []

  def convert(examples, labels, tokenizer, max_seq_length):
    seen.extend(e.text for e in examples)
    return [{}] * len(examples), 0

  monkeypatch.setattr(relations, "convert_examples", convert)
  pair = ("aspirin and renal failure", {"start": 0, "end": 7,
                                        "type": "CHEMICAL"},
          {"start": 12, "end": 25, "type": "DISEASE"})
  predict = lambda features: [{"probabilities": [0.2, 0.8]}] * len(features)
  for markers in (False, True):
    assert relations.classify_pairs([pair], ["0", "1"], None, 32, predict,
                                    markers) == [("1", 0.8)]
  assert seen == ["@CHEMICAL$ and @DISEASE$",
                  "@ * chemical * aspirin @ and # ^ disease ^ renal failure #"]
  # tag_corpus.py's relation model marks as its run recorded.
  from corpus import tagging
  assert tagging.entity_markers({"training": {"entity_markers": True}})
  assert not tagging.entity_markers({"training": {"task": "gad"}})
  assert not tagging.entity_markers({})  # a run trained before the flag
