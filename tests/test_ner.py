"""NER end to end: run_ner.py, ner_detokenize.py and conlleval.pl together."""

import json
import os
import random
import subprocess

import pytest

from biocodes import ner_io
from finetuning import errors
from tasks import ner
import tokenization
from tests.conftest import DATA, ROOT
from tests.helpers import bert_flags, run_tool, slice_sentences

NCBI = os.path.join(DATA, "NER", "NCBI-disease")


def _words(path):
  return [(w, t) for s in ner_io.read_sentences(path) for w, t, _ in s]


def _perl_conlleval(path):
  with open(path, "rb") as f:
    return subprocess.run(["perl", os.path.join(ROOT, "biocodes",
                                                "conlleval.pl")],
                          stdin=f, capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def ncbi_run(tiny_bert_dir, tmp_path_factory):
  """Train (few steps) + eval + predict on a slice of NCBI-disease."""
  base = tmp_path_factory.mktemp("ncbi")
  data = base / "data"
  data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"), str(data /
                                                           "train_dev.tsv"),
                  64)
  slice_sentences(os.path.join(NCBI, "devel.tsv"), str(data / "devel.tsv"), 20)
  # Test sentences 60.. include long ones; at --max_seq_length=32 many
  # sentences need several windows.
  with open(os.path.join(NCBI, "test.tsv"), encoding="utf-8") as f:
    test = [s for s in f.read().split("\n\n") if s.strip()][:40]
  (data / "test.tsv").write_text("\n\n".join(test) + "\n", encoding="utf-8")
  out = base / "out"
  result = run_tool(["run_ner.py", "--do_train=true", "--do_eval=true",
                     "--data_dir=" + str(data), "--output_dir=" + str(out),
                     "--max_seq_length=32", "--train_batch_size=16",
                     "--num_train_epochs=1", "--learning_rate=1e-3",
                     "--seed=1"] + bert_flags(tiny_bert_dir))
  return {"data": data, "out": out, "stdout": result.stdout,
          "stderr": result.stderr}


def test_no_tensorflow_deprecation_notices(ncbi_run):
  # TensorFlow 2.15 marks tf.estimator and its hooks deprecated ("Use
  # tf.keras instead"): about 15 notices a run, about APIs chosen on purpose.
  assert "is deprecated" not in ncbi_run["stderr"]
  assert "Instructions for updating" not in ncbi_run["stderr"]
  assert "Trained " in ncbi_run["stdout"]  # the run's own lines are kept


def test_outputs_exist_in_original_formats(ncbi_run):
  out = ncbi_run["out"]
  for name in ["token_test.txt", "label_test.txt", "NER_result_conll.txt",
               "eval_results.txt", "ner_scores.json", "run_manifest.json"]:
    assert (out / name).is_file(), name
  tokens = (out / "token_test.txt").read_text().splitlines()
  labels = (out / "label_test.txt").read_text().splitlines()
  assert len(tokens) == len(labels)
  assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
  assert "[PAD]" not in labels and "" not in tokens
  for tok, lab in zip(tokens, labels):
    if tok in ("[CLS]", "[SEP]"):
      assert lab == tok
    elif tok.startswith("##"):
      assert lab == "X"
    else:
      assert lab in ("B", "I", "O")
  # Windows: more [CLS] than test sentences, since sentences were split.
  assert tokens.count("[CLS]") > 40
  eval_keys = [l.split(" = ")[0] for l in
               (out / "eval_results.txt").read_text().splitlines()]
  assert eval_keys == ["eval_f", "eval_precision", "eval_recall",
                       "global_step", "loss"]
  # Training windows (not sentences) make the steps; the eval reports the
  # step of the final checkpoint.
  latest = (out / "checkpoint").read_text().splitlines()[0]
  step = int(latest.split("-")[-1].rstrip('"'))
  assert step > 64 // 16
  assert "global_step = %d\n" % step in (out / "eval_results.txt").read_text()


def test_every_test_word_scored_with_gold_tags(ncbi_run):
  gold = _words(str(ncbi_run["data"] / "test.tsv"))
  lines = (ncbi_run["out"] / "NER_result_conll.txt").read_text().split("\n")
  rows = [l.split(" ") for l in lines if l]
  assert len(rows) == len(gold)
  assert [(r[0], r[1]) for r in rows] == [(w, t + "-MISC") for w, t in gold]
  assert all(r[2] in ("B-MISC", "I-MISC", "O-MISC") for r in rows)
  # Sentences are separated by exactly one blank line.
  assert "\n".join(lines).count("\n\n") == 40


def test_printed_scores_equal_perl_conlleval(ncbi_run):
  stdout = ncbi_run["stdout"]
  perl = _perl_conlleval(str(ncbi_run["out"] / "NER_result_conll.txt"))
  assert ("***** entity-level evaluation results (conlleval) *****\n" +
          perl) in stdout
  assert "***** token-level evaluation results *****" in stdout
  for key in ["eval_f", "eval_precision", "eval_recall", "global_step",
              "loss"]:
    assert "  %s = " % key in stdout
  scores = json.loads((ncbi_run["out"] / "ner_scores.json").read_text())
  first = perl.splitlines()[1]
  assert "FB1: %6.2f" % scores["entity_level"]["f1"] in first
  assert scores["words"] == len(_words(str(ncbi_run["data"] / "test.tsv")))


def test_three_step_path_gives_the_same_file(ncbi_run, tmp_path):
  out = ncbi_run["out"]
  run_tool(["biocodes/ner_detokenize.py",
            "--token_test_path=" + str(out / "token_test.txt"),
            "--label_test_path=" + str(out / "label_test.txt"),
            "--answer_path=" + str(ncbi_run["data"] / "test.tsv"),
            "--output_dir=" + str(tmp_path), "--debug"])
  assert ((tmp_path / "NER_result_conll.txt").read_bytes() ==
          (out / "NER_result_conll.txt").read_bytes())
  debug = (tmp_path / "NER_result_debug.txt").read_text()
  assert debug.startswith("# sentence 1 (answer line 1): 18 words, ")


def test_same_output_dir_other_setup_is_refused(ncbi_run, tiny_bert_dir):
  result = run_tool(["run_ner.py", "--do_train=true", "--do_predict=false",
                     "--data_dir=" + str(ncbi_run["data"]),
                     "--output_dir=" + str(ncbi_run["out"]),
                     "--max_seq_length=64"] + bert_flags(tiny_bert_dir),
                    expect_ok=False)
  assert result.returncode == 2
  assert "holds a different run" in result.stderr
  assert "max_seq_length: recorded 32, now 64" in result.stderr


# A long typed sentence: 400 words, well over --max_seq_length=128 pieces.
def _long_typed_fixture(directory):
  rng = random.Random(5)
  vocab = ["aspirin", "induced", "renal", "failure", "in", "BRCA1",
           "carriers", "with", "acute", "disease", ",", "and", "the"]
  words, tags = [], []
  for i in range(400):
    w = rng.choice(vocab)
    if w == "aspirin":
      t = "B-Chemical"
    elif w == "renal":
      t = "B-Disease"
    elif w == "failure" and tags and tags[-1].endswith("Disease"):
      t = "I-Disease"
    elif w == "BRCA1":
      t = "B-Gene"
    else:
      t = "O"
    words.append(w)
    tags.append(t)
  short = [("Aspirin", "B-Chemical"), ("helps", "O"), (".", "O")]
  text = "\n".join("%s\t%s" % wt for wt in zip(words, tags)) + "\n\n"
  text += "\n".join("%s\t%s" % wt for wt in short) + "\n"
  for name in ["train_dev.tsv", "devel.tsv", "test.tsv"]:
    (directory / name).write_text(text, encoding="utf-8")
  return words, tags


def test_long_typed_sentence_loses_no_word(tiny_bert_dir, tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  words, tags = _long_typed_fixture(data)
  out = tmp_path / "out"
  result = run_tool(["run_ner.py", "--data_dir=" + str(data),
                     "--output_dir=" + str(out), "--max_seq_length=128",
                     "--train_batch_size=2", "--num_train_epochs=1",
                     "--seed=3"] + bert_flags(tiny_bert_dir))
  manifest = json.loads((out / "run_manifest.json").read_text())
  assert manifest["labels"] == [
      "[PAD]", "B-Chemical", "B-Disease", "B-Gene", "I-Chemical",
      "I-Disease", "I-Gene", "O", "X", "[CLS]", "[SEP]"]
  rows = [l.split(" ") for l in
          (out / "NER_result_conll.txt").read_text().splitlines() if l]
  assert len(rows) == 403
  assert [(r[0], r[1]) for r in rows[:400]] == [
      (w, ner_io.conll_tag(t)) for w, t in zip(words, tags)]
  assert rows[400][:2] == ["Aspirin", "B-Chemical"]
  assert rows[-1][:2] == [".", "O-MISC"]
  tokens = (out / "token_test.txt").read_text().splitlines()
  assert tokens.count("[CLS]") >= 4  # the long sentence needed windows
  perl = _perl_conlleval(str(out / "NER_result_conll.txt"))
  assert perl in result.stdout
  # Gold has typed chunks: conlleval scores per type.
  assert "         Chemical: precision:" in perl

  # Raw text tagging with the trained model.
  raw = tmp_path / "raw.txt"
  raw.write_text("Aspirin induced renal failure.\n\nBRCA1 carriers\n",
                 encoding="utf-8")
  run_tool(["run_ner.py", "--do_train=false", "--do_predict=false",
            "--raw_text_file=" + str(raw), "--output_dir=" + str(out),
            "--max_seq_length=128"] + bert_flags(tiny_bert_dir))
  results = [json.loads(l) for l in
             (out / "raw_text_predictions.jsonl").read_text().splitlines()]
  assert [r["line"] for r in results] == [1, 2, 3]
  assert results[1]["entities"] == []
  for r in results:
    for e in r["entities"]:
      assert r["text"][e["start"]:e["end"]] == e["text"]
      assert e["type"] in ("Chemical", "Disease", "Gene")


def test_split_windows_at_word_boundaries():
  pieces = [["a"], ["b", "##c"], ["d"], ["e", "##1", "##2", "##3", "##4"]]
  assert ner.split_windows(pieces, 3) == [
      [(0, 0), (1, 0), (1, 1)], [(2, 0)], [(3, 0), (3, 1), (3, 2)],
      [(3, 3), (3, 4)]]
  assert ner.split_windows(pieces, 100) == [
      [(0, 0), (1, 0), (1, 1), (2, 0), (3, 0), (3, 1), (3, 2), (3, 3),
       (3, 4)]]


def test_label_list_from_tags():
  assert ner.label_list_from_tags(["O", "B", "I"]) == [
      "[PAD]", "B", "I", "O", "X", "[CLS]", "[SEP]"]
  assert ner.label_list_from_tags(["B", "O"]) == [
      "[PAD]", "B", "I", "O", "X", "[CLS]", "[SEP]"]
  assert ner.label_list_from_tags(["B-Gene", "O"]) == [
      "[PAD]", "B-Gene", "I-Gene", "O", "X", "[CLS]", "[SEP]"]


def test_entities_and_offsets():
  text = "Aspirin-induced acute renal failure (ARF)."
  words = ner.split_words_with_offsets(text)
  assert [w for w, _, _ in words] == ["Aspirin", "-", "induced", "acute",
                                      "renal", "failure", "(", "ARF", ")",
                                      "."]
  tags = ["B-Chemical", "O", "O", "B-Disease", "I-Disease", "I-Disease", "O",
          "I-Disease", "O", "O"]
  ents = ner.entities(text, words, tags)
  assert [(e["text"], e["type"]) for e in ents] == [
      ("Aspirin", "Chemical"), ("acute renal failure", "Disease"),
      ("ARF", "Disease")]
  assert ner.entities(text, words[:2], ["B", "I"]) == [
      {"start": 0, "end": 8, "text": "Aspirin-", "type": None}]


def test_tag_only_in_test_data_is_an_error(tmp_path):
  f = tmp_path / "test.tsv"
  f.write_text("BRCA1\tB-Gene\n", encoding="utf-8")
  split = ner.NerProcessor().get_test_examples(str(tmp_path))
  with pytest.raises(errors.InputError, match=r"test.tsv:1: tag 'B-Gene' is "
                     r"not in the label list"):
    ner.check_tags(split.examples, split.path,
                       ner.label_list_from_tags(["B"]))


def test_missing_data_file_exits_2_before_writing(tiny_bert_dir, tmp_path):
  out = tmp_path / "out"
  result = run_tool(["run_ner.py", "--data_dir=" + str(tmp_path),
                     "--output_dir=" + str(out)] + bert_flags(tiny_bert_dir),
                    expect_ok=False)
  assert result.returncode == 2
  assert "train_dev.tsv: file not found" in result.stderr
  assert "Traceback" not in result.stderr
  assert not out.exists()


def test_words_without_pieces_still_get_one(tiny_bert_dir):
  tok = tokenization.FullTokenizer(tiny_bert_dir["vocab"], False)
  ex = ner.InputExample("t", ["a", "\u200b", "b"], ["O", "B", "O"],
                            [1, 2, 3])
  feats, windows, _ = ner.convert_examples(
      [ex], ner.label_list_from_tags(["B"]), tok, 16)
  assert windows[0].tokens == ["[CLS]", "a", "[UNK]", "b", "[SEP]"]
  assert feats[0]["label_ids"][:5] == [5, 3, 1, 3, 6]


def test_casing_dependent_words_with_an_uncased_model(tiny_bert_dir, tmp_path):
  # Lower-casing strips accents and overlays, so "p\u2260q" and
  # "a-\u0301-b" have more (or fewer) basic tokens than in cased text.
  data = tmp_path / "data"
  data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(data / "train_dev.tsv"), 16)
  test = ("p\u2260q\tO\nCaf\u00e9\tB\nsyndrome\tI\n\n"
          "a-\u0301-b\tO\nBRCA1\tB\n\nx\u2260\u2260y\tO\n")
  (data / "test.tsv").write_text(test, encoding="utf-8")
  out = tmp_path / "out"
  run_tool(["run_ner.py", "--do_train=true", "--do_predict=true",
            "--do_lower_case=true", "--data_dir=" + str(data),
            "--output_dir=" + str(out), "--max_seq_length=32",
            "--train_batch_size=8", "--num_train_epochs=1"] +
           bert_flags(tiny_bert_dir))
  conll = (out / "NER_result_conll.txt").read_text(encoding="utf-8")
  assert [l.split(" ")[0] for l in conll.splitlines() if l] == [
      "p\u2260q", "Caf\u00e9", "syndrome", "a-\u0301-b", "BRCA1",
      "x\u2260\u2260y"]
  # The three-step path aligns the same words the same way.
  again = tmp_path / "again"
  again.mkdir()
  run_tool(["biocodes/ner_detokenize.py",
            "--token_test_path=" + str(out / "token_test.txt"),
            "--label_test_path=" + str(out / "label_test.txt"),
            "--answer_path=" + str(data / "test.tsv"),
            "--output_dir=" + str(again)])
  assert (again / "NER_result_conll.txt").read_text(encoding="utf-8") == conll


def test_dev_evaluation_during_training_keeps_the_best(tiny_bert_dir,
                                                       tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(data / "train_dev.tsv"), 48)
  slice_sentences(os.path.join(NCBI, "devel.tsv"), str(data / "devel.tsv"),
                  16)
  slice_sentences(os.path.join(NCBI, "test.tsv"), str(data / "test.tsv"), 8)
  out = tmp_path / "out"
  result = run_tool(["run_ner.py", "--do_train=true", "--do_eval=true",
                     "--do_predict=true", "--data_dir=" + str(data),
                     "--output_dir=" + str(out), "--max_seq_length=32",
                     "--train_batch_size=8", "--num_train_epochs=3",
                     "--learning_rate=5e-3", "--eval_every_epoch=true",
                     "--keep_best=true", "--seed=4"] +
                    bert_flags(tiny_bert_dir))
  history = [json.loads(l) for l in
             (out / "dev_scores.jsonl").read_text().splitlines()]
  steps_per_epoch = history[0]["step"]
  assert [r["step"] for r in history] == [steps_per_epoch * k
                                          for k in (1, 2, 3)]
  assert [r["epoch"] for r in history] == [1.0, 2.0, 3.0]
  assert all(r["metric"] == "entity_f1" for r in history)
  values = [r["value"] for r in history]
  best = history[values.index(max(values))]
  kept = json.loads((out / "best" / "best.json").read_text())
  assert kept["step"] == best["step"]
  # Evaluated and predicted with the best checkpoint.
  assert ("global_step = %d\n" % best["step"] in
          (out / "eval_results.txt").read_text())
  assert "dev at step %d (epoch 1.00): entity_f1" % steps_per_epoch in (
      result.stdout)


def test_paper_protocol_in_one_command(tiny_bert_dir, tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  train = slice_sentences(os.path.join(NCBI, "train.tsv"),
                          str(data / "train.tsv"), 32)
  dev = slice_sentences(os.path.join(NCBI, "devel.tsv"),
                        str(data / "devel.tsv"), 12)
  (data / "train_dev.tsv").write_text(
      "\n\n".join(s.strip("\n") for s in train + dev) + "\n")
  slice_sentences(os.path.join(NCBI, "test.tsv"), str(data / "test.tsv"), 8)
  out = tmp_path / "out"
  result = run_tool(["run_ner.py", "--select_epochs_on_dev=true",
                     "--data_dir=" + str(data), "--output_dir=" + str(out),
                     "--max_seq_length=64", "--train_batch_size=8",
                     "--num_train_epochs=3", "--learning_rate=5e-3",
                     "--seed=2"] + bert_flags(tiny_bert_dir))
  report = json.loads((out / "protocol_report.json").read_text())
  curve = report["dev_curve"]
  assert [r["epoch"] for r in curve] == [1.0, 2.0, 3.0]
  values = [r["value"] for r in curve]
  assert report["chosen_epochs"] == values.index(max(values)) + 1
  assert report["metric"] == "entity_f1"
  history = [json.loads(l) for l in
             (out / "select" / "dev_scores.jsonl").read_text().splitlines()]
  assert [r["value"] for r in history] == values
  # The final model: train_dev.tsv's windows for the chosen number of
  # epochs, batch 8 (the last "Training ..." line is the final stage's).
  import re
  found = re.findall(r"Training \d+ steps of batch \d+ \((\d+) examples",
                     result.stdout)
  windows, first = int(found[-1]), int(found[0])
  assert windows > first  # train + dev, more than train alone
  assert est_step(out / "final") == int(windows / 8 *
                                        report["chosen_epochs"])
  assert report["test"] == json.loads(
      (out / "final" / "ner_scores.json").read_text())
  assert (out / "final" / "NER_result_conll.txt").is_file()
  assert not (out / "select" / "NER_result_conll.txt").exists()
  assert "Best dev entity_f1" in result.stdout


def est_step(directory):
  from finetuning import estimator as est
  return est.checkpoint_step(str(directory))
