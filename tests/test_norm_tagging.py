"""Concept IDs wherever entities come out: tag_corpus.py --normalizers."""

import io
import json
import os

import pytest

from corpus import documents
from corpus import tagging
from corpus import writers
from finetuning import errors
from tests import norm_fixture
from tests.helpers import bert_flags
from tests.helpers import run_tool
from tests.helpers import train_typed_ner
from tests.helpers import write_file


def _tagged():
  doc = documents.Document("7", documents.joined(
      [("title", "Renal failure and BRCA1.", None)]))
  tagged = documents.to_json(doc)
  tagged["annotations"] = [
      {"id": "T1", "passage": 0, "type": "Disease", "offset": 0,
       "length": 13, "text": "Renal failure", "model": "m", "score": 0.9,
       "concept": {"id": "MESH:D051437", "ids": ["MESH:D051437"],
                   "name": "renal failure", "score": 0.8125,
                   "model": "norm"}},
      {"id": "T2", "passage": 0, "type": "Disease", "offset": 18,
       "length": 5, "text": "BRCA1", "model": "m", "score": 0.5,
       "concept": None},
      {"id": "T3", "passage": 0, "type": "Gene", "offset": 18, "length": 5,
       "text": "BRCA1", "model": "m", "score": 1.0}]
  tagged["relations"] = []
  return tagged


def _write(fmt):
  out = io.StringIO()
  writers.write(fmt, [_tagged()], out, "20260101")
  return out.getvalue()


def test_writers_give_the_concept_in_each_format():
  assert _write("pubtator") == (
      "7|t|Renal failure and BRCA1.\n7|a|\n"
      "7\t0\t13\tRenal failure\tDisease\tD051437\n"
      "7\t18\t23\tBRCA1\tDisease\t-1\n"
      "7\t18\t23\tBRCA1\tGene\t-\n\n")
  bioc = json.loads(_write("bioc_json"))
  infons = [a["infons"] for a in bioc["documents"][0]["passages"][0][
      "annotations"]]
  assert [(i.get("identifier"), i.get("concept_score")) for i in infons] == [
      ("MESH:D051437", "0.8125"), ("-1", None), (None, None)]
  line = json.loads(_write("jsonl"))
  assert [a.get("concept", "absent") for a in line["annotations"]] == [
      _tagged()["annotations"][0]["concept"], None, "absent"]


@pytest.fixture(scope="module")
def runs(tiny_bert_dir, tmp_path_factory):
  """A typed NER run and a normalization run whose lexicon has the
  corpus's names and "renal failure"; the sparse score weighs heavily, so
  that an exact name wins whatever the tiny encoder says."""
  root = tmp_path_factory.mktemp("norm_tagging")
  ner = train_typed_ner(tiny_bert_dir, root)
  data = norm_fixture.write_corpus(str(root / "norm_data"))
  lexicon = norm_fixture.write_lexicon(str(root / "lexicon.tsv"))
  with open(lexicon, "a") as f:
    f.write("D051437\trenal failure\nD051437\trenal insufficiency\n")
  norm = str(root / "norm")
  run_tool(["run_norm.py", "--do_train", "--do_eval", "--data_dir=" + data,
            "--lexicon=" + lexicon, "--output_dir=" + norm,
            "--train_batch_size=8", "--do_lower_case=false", "--topk=6",
            "--num_train_epochs=1", "--initial_sparse_weight=100",
            "--seed=1"] + bert_flags(tiny_bert_dir))
  return {"ner": ner, "norm": norm, "lexicon": lexicon,
          "vocab": tiny_bert_dir["vocab"], "root": root}


def test_normalizer_model_expands_abbreviations_and_caches(runs):
  model = tagging.NormModel(runs["norm"], runs["vocab"])
  cached = sorted(os.listdir(os.path.join(runs["norm"],
                                         "lexicon_embeddings")))
  assert len(cached) == 2 and cached[1].startswith("training-step")
  found = model.normalize([
      ("breast cancer", "We saw breast cancer."),
      ("APC", "Adenomatous polyposis coli (APC) is rare. APC."),
      ("renal failure", "")])
  assert [c.ids for c in found] == [("D001943",), ("OMIM:175100",),
                                    ("D051437",)]
  assert found[1].name == "adenomatous polyposis coli"
  assert all(0.0 < c.score <= 1.0 for c in found)
  # A threshold above every confidence gives no ID.
  strict = tagging.NormModel(runs["norm"], runs["vocab"], threshold=1.0)
  assert sorted(os.listdir(os.path.join(
      runs["norm"], "lexicon_embeddings"))) == cached  # read back
  assert [c is None for c in strict.normalize([("breast tumors", "")])] == [
      True]


def test_a_changed_or_moved_lexicon_is_refused(tmp_path):
  lexicon = write_file(tmp_path / "lex.tsv", "D1\tname\n")
  manifest = {"training": {"lexicon": lexicon, "lexicon_sha256": "0" * 64}}
  with pytest.raises(errors.UserError, match="has changed since run"):
    tagging.lexicon_of(manifest, "run")
  manifest["training"]["lexicon"] = str(tmp_path / "gone.tsv")
  with pytest.raises(errors.UserError, match="is not there"):
    tagging.lexicon_of(manifest, "run")


def _tag(runs, inputs, out, *extra, expect_ok=True):
  return run_tool(["tag_corpus.py", "--input=" + inputs,
                   "--models=" + runs["ner"], "--vocab_file=" + runs["vocab"],
                   "--output_dir=" + str(out)] + list(extra),
                  expect_ok=expect_ok)


def test_tag_corpus_writes_concept_ids(runs, tmp_path):
  text = write_file(tmp_path / "abstracts.txt",
                    "aspirin induced renal failure in BRCA1 carriers\n"
                    "acute renal failure and the disease\n")
  by_format = {}
  for fmt in ("pubtator", "jsonl", "bioc_json"):
    out = tmp_path / fmt
    result = _tag(runs, text, out, "--format=" + fmt,
                  "--normalizers=disease=" + runs["norm"])
    assert result.stderr == ""
    by_format[fmt] = open(os.path.join(str(out), "abstracts" +
                                       writers.EXTENSIONS[fmt])).read()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["normalizers"][0]["type"] == "disease"
    counts = manifest["counts"]
    assert counts["concepts"] + counts["no_concept"] == counts[
        "entities"].get("Disease", 0)
  diseases = [line.split("\t") for line in by_format["pubtator"].splitlines()
              if "\tDisease\t" in line]
  assert diseases, by_format["pubtator"]
  for fields in diseases:  # the tiny NER model finds "renal" (failure)
    if "renal" in fields[3]:
      assert fields[5] == "D051437"
    assert fields[5] != "-"
  # The tagger's PubTator file scores with concept_eval.py against itself.
  tagged = os.path.join(str(tmp_path / "pubtator"), "abstracts.pubtator")
  scored = run_tool(["biocodes/concept_eval.py", tagged, tagged])
  assert scored.stdout.splitlines()[1].split()[:4] == [
      "Disease", "100.00", "100.00", "100.00"]
  annotations = [a for line in by_format["jsonl"].splitlines()
                 for a in json.loads(line)["annotations"]]
  assert all(("concept" in a) == (a["type"] == "Disease")
             for a in annotations)
  assert {a["concept"]["id"] for a in annotations
          if "renal" in a["text"]} == {"MESH:D051437"}
  bioc = json.loads(by_format["bioc_json"])
  infons = [a["infons"] for d in bioc["documents"] for p in d["passages"]
            for a in p["annotations"]]
  assert {i["identifier"] for i in infons if i["type"] == "Disease"} <= (
      {"MESH:D051437", "-1"} | {"MESH:" + c for c in norm_fixture.CONCEPTS}
      | set(norm_fixture.CONCEPTS))


def test_bad_normalizers_exit_2(runs, tmp_path):
  text = write_file(tmp_path / "a.txt", "renal failure\n")
  cases = [
      ("protein=" + runs["norm"], "no model of --models gives protein"),
      ("disease=" + runs["ner"], "is a ner run"),
      (runs["norm"], "expected type=run_dir"),
  ]
  for value, message in cases:
    out = tmp_path / "out"
    result = _tag(runs, text, out, "--normalizers=" + value,
                  expect_ok=False)
    assert result.returncode == 2, value
    assert message in result.stderr, (value, result.stderr)
    assert "Traceback" not in result.stderr
    assert not out.exists()
  result = _tag(runs, text, tmp_path / "out", "--normalizers=disease=" +
                runs["norm"], "--norm_threshold=2", expect_ok=False)
  assert "--norm_threshold=2.0: expected a confidence between 0 and 1" in (
      result.stderr)


def test_raw_text_ner_writes_concepts(runs, tmp_path):
  text = write_file(tmp_path / "raw.txt",
                    "aspirin induced renal failure in BRCA1 carriers\n")
  out = tmp_path / "raw.jsonl"
  run_tool(["run_ner.py", "--do_train=false", "--do_predict=false",
            "--output_dir=" + runs["ner"], "--raw_text_file=" + text,
            "--raw_output_file=" + str(out), "--normalizers=disease=" +
            runs["norm"], "--vocab_file=" + runs["vocab"],
            "--bert_config_file=" + os.path.join(
                os.path.dirname(runs["vocab"]), "bert_config.json")])
  entities = json.loads(out.read_text())["entities"]
  concepts = [(e["type"], (e.get("concept") or {}).get("id"))
              for e in entities if "renal" in e["text"]]
  assert concepts and all(c == ("Disease", "MESH:D051437")
                          for c in concepts)
  assert all("concept" not in e for e in entities if e["type"] != "Disease")
  bad = run_tool(["run_ner.py", "--do_train=false", "--do_predict=false",
                  "--output_dir=" + runs["ner"], "--raw_text_file=" + text,
                  "--raw_output_file=" + str(tmp_path / "no.jsonl"),
                  "--normalizers=protein=" + runs["norm"],
                  "--vocab_file=" + runs["vocab"],
                  "--bert_config_file=" + os.path.join(
                      os.path.dirname(runs["vocab"]), "bert_config.json")],
                 expect_ok=False)
  assert bad.returncode == 2
  assert "--normalizers=protein=%s: expected types of the model's entities" % (
      runs["norm"]) in bad.stderr
  assert not (tmp_path / "no.jsonl").exists()


def test_a_slimmed_checkpoint_keeps_its_lexicon_embeddings(runs, tmp_path):
  """run_suite.py drops the optimizer's slots of a kept run: the same
  weights, so the same cache key."""
  import shutil
  import tensorflow.compat.v1 as tf
  from suite_runner import slim_checkpoint
  from tasks import norm
  copy = str(tmp_path / "norm")
  shutil.copytree(runs["norm"], copy)
  before = norm.weights_digest(tf.train.latest_checkpoint(copy))
  slim_checkpoint.slim(tf.train.latest_checkpoint(copy))
  assert norm.weights_digest(tf.train.latest_checkpoint(copy)) == before
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(copy))
  assert not [n for n in reader.get_variable_to_shape_map() if "adam" in n]


def test_a_normalizer_exports_as_an_encoder(runs, tmp_path):
  """export_model.py: a BertModel whose [CLS] vector is the embedding the
  normalizer compares (SapBERT's form), and a SavedModel serving it."""
  out = tmp_path / "exported"
  run_tool(["export_model.py", "--output_dir=" + runs["norm"],
            "--vocab_file=" + runs["vocab"], "--export_dir=" + str(out)])
  config = json.loads((out / "huggingface" / "config.json").read_text())
  assert config["architectures"] == ["BertModel"]
  assert (out / "saved_model" / "saved_model.pb").is_file()
