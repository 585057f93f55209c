"""tag_corpus.py: readers, sentences, writers, resume, workers, errors."""

import io
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from corpus import documents
from corpus import readers
from corpus import sentences
from corpus import shards
from corpus import writers
from tests.conftest import ROOT
from tests.helpers import TYPED_VOCAB, bert_flags, run_tool, typed_ner_data
from tests.helpers import write_file

FILES = os.path.join(ROOT, "tests", "corpus_files")


def _path(name):
  return os.path.join(FILES, name)


def _read(name):
  path = _path(name)
  return list(readers.read(path, readers.detect_format(path)))


# Readers, each on a small file in its real format.

def test_pubmed_reader_title_structured_abstract_and_malformed():
  records = _read("pubmed_sample.xml")
  assert readers.detect_format(_path("pubmed_sample.xml")) == "pubmed"
  assert records == [
      documents.Document("10001", [
          documents.Passage("title", 0, "Aspirin and renal failure in E. "
                            "coli sepsis."),
          documents.Passage("abstract", 45, "Aspirin induced renal failure "
                            "in 3 patients (p < 0.05). No other effects were "
                            "seen.")]),
      documents.Document("10002", [
          documents.Passage("title", 0, "A structured abstract."),
          documents.Passage("abstract", 23, "Breast cancer is common, e.g. "
                            "in BRCA1 carriers.", {"section": "BACKGROUND"}),
          documents.Passage("abstract", 72, "We studied approx. 300 women "
                            "(Fig. 2).", {"section": "METHODS"}),
          documents.Passage("abstract", 111, "Risk rose 2.5-fold vs. "
                            "controls.", {"section": "RESULTS"})]),
      documents.Malformed(_path("pubmed_sample.xml") + ":28", None,
                          "no PMID"),
      documents.Document("10004", [
          documents.Passage("title", 0, "Title only: no abstract.")]),
  ]


def test_pubmed_reader_gzip_and_broken_xml(tmp_path):
  import gzip
  with open(_path("pubmed_sample.xml"), "rb") as f:
    data = f.read()
  gz = tmp_path / "pubmed24n0001.xml.gz"
  gz.write_bytes(gzip.compress(data))
  assert readers.detect_format(str(gz)) == "pubmed"
  assert list(readers.read(str(gz), "pubmed"))[0].id == "10001"
  broken = tmp_path / "broken.xml"
  broken.write_bytes(data[:data.index(b"<PMID Version=\"1\">10002")] +
                     b"<PMID>10002</PM")
  records = list(readers.read(str(broken), "pubmed"))
  assert [type(r).__name__ for r in records] == ["Document", "Malformed"]
  assert records[1].id == "10001"
  assert records[1].reason.startswith("XML error, the rest of the file is "
                                      "not read: ")


def test_bioc_xml_reader():
  assert _read("bioc_sample.xml") == [
      documents.Document("20001", [
          documents.Passage("title", 0, "Cisplatin nephrotoxicity in rats.",
                            {"type": "title"}),
          documents.Passage("abstract", 34, "Cisplatin caused acute kidney "
                            "injury. Mice were spared.", {"type": "abstract"})
      ], {"journal": "J Test"}),
      documents.Document("20002", [
          documents.Passage("title", 0, "Second document.",
                            {"type": "title"})], {}),
  ]


def test_bioc_json_reader_collection_and_lines(tmp_path):
  assert _read("bioc_collection.json") == [
      documents.Document("30001", [
          documents.Passage("title", 0, "Tamoxifen and breast cancer.",
                            {"type": "title"}),
          documents.Passage("abstract", 29, "Tamoxifen lowered the risk. It "
                            "was safe.", {"type": "abstract"})], {})]
  with open(_path("bioc_collection.json"), encoding="utf-8") as f:
    doc = json.load(f)["documents"][0]
  doc["bioctype"] = "BioCDocument"
  lines = tmp_path / "docs.json"
  lines.write_text(json.dumps(doc) + "\n{\"bioctype\": \"BioCDocument\"}\n",
                   encoding="utf-8")
  records = list(readers.read(str(lines), "bioc_json"))
  assert records[0] == _read("bioc_collection.json")[0]
  assert isinstance(records[1], documents.Malformed)
  assert records[1].source == str(lines) + ":2"


def test_pubtator_reader():
  assert readers.detect_format(_path("pubtator_sample.pubtator")) == (
      "pubtator")
  assert _read("pubtator_sample.pubtator") == [
      documents.Document("40001", [
          documents.Passage("title", 0, "Lithium and renal failure."),
          documents.Passage("abstract", 27, "Lithium caused renal failure in "
                            "rats. Doses were high.")]),
      documents.Document("40002", [
          documents.Passage("title", 0, "No abstract here.")]),
  ]


def test_jsonl_and_text_readers():
  path = _path("lines.jsonl")
  assert _read("lines.jsonl") == [
      documents.Document("a1", [documents.Passage(
          "text", 0, "Aspirin induced renal failure.")]),
      documents.Document("7", [documents.Passage("text", 0,
                                                 "BRCA1 carriers.")]),
      documents.Malformed(path + ":3", None, 'not valid JSON (expected '
                          '{"id", "text"} a line): Expecting value: line 1 '
                          "column 1 (char 0)"),
      documents.Malformed(path + ":4", None, '"id" is missing or not a '
                          "string or number"),
      documents.Document("a3", [documents.Passage("text", 0, "Last one.")]),
  ]
  assert readers.detect_format(_path("plain.txt")) == "text"
  assert _read("plain.txt") == [
      documents.Document("1", [documents.Passage(
          "text", 0, "Aspirin induced renal failure.")]),
      documents.Document("3", [documents.Passage(
          "text", 0, "BRCA1 carriers have breast cancer.")]),
  ]


# Sentences.

BIOMEDICAL = [
    "Mutations were found, e.g. in BRCA1.",
    "As shown by Smith et al. in 2004, the effect was strong.",
    "The tumour grew (Fig. 2).",
    "Aspirin vs. placebo reduced pain.",
    "We enrolled approx. 300 patients.",
    "The difference was significant (p < 0.05).",
    "E. coli and S. cerevisiae were grown overnight.",
    "The response rate was 12.5% in the first group.",
    "Growth of E. coli K-12 was inhibited.",
    "Patients (n = 45) received 0.5 mg/kg i.v. daily.",
    "Expression of TNF-alpha increased 2.3-fold (P=0.001).",
]


def test_sentence_splitter_on_biomedical_text():
  text = "  ".join(BIOMEDICAL) + "\n\nB. subtilis was not affected."
  spans = sentences.split(text)
  assert [text[s:e] for s, e in spans] == BIOMEDICAL + [
      "B. subtilis was not affected."]
  # The limit: a sentence ending in one capital letter, then a species.
  hard = "It rose in group A. E. coli did not grow."
  assert [hard[s:e] for s, e in sentences.split(hard)] == [hard]


# Writers.

def _tagged():
  doc = documents.Document("99", documents.joined(
      [("title", "Aspirin and renal\nfailure.", None),
       ("abstract", "BRCA1 carriers.", {"section": "RESULTS"})]))
  tagged = documents.to_json(doc)
  tagged["annotations"] = [
      {"id": "T1", "passage": 0, "type": "Chemical", "offset": 0,
       "length": 7, "text": "Aspirin", "model": "m", "score": 0.9},
      {"id": "T2", "passage": 0, "type": "Disease", "offset": 12,
       "length": 13, "text": "renal\nfailure", "model": "m", "score": 0.5},
      {"id": "T3", "passage": 1, "type": "Gene", "offset": 27,
       "length": 5, "text": "BRCA1", "model": "m", "score": 1.0}]
  tagged["relations"] = [{"id": "R1", "type": "GAD", "score": 0.75,
                          "model": "re", "arg1": "T3", "arg2": "T2"}]
  return tagged


def _write(fmt):
  out = io.StringIO()
  if fmt == "bioc_xml":
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    writers.write(fmt, [_tagged()], out, "20260101")
    return out.buffer.getvalue().decode("utf-8")
  writers.write(fmt, [_tagged()], out, "20260101")
  return out.getvalue()


def test_pubtator_writer():
  assert _write("pubtator") == (
      "99|t|Aspirin and renal failure.\n"
      "99|a|BRCA1 carriers.\n"
      "99\t0\t7\tAspirin\tChemical\t-\n"
      "99\t12\t25\trenal failure\tDisease\t-\n"
      "99\t27\t32\tBRCA1\tGene\t-\n"
      "99\tGAD\tT3\tT2\n\n")


@pytest.mark.parametrize("fmt", ["bioc_json", "bioc_xml"])
def test_bioc_writers_read_back_with_bioc(fmt):
  import bioc
  from bioc import biocjson, biocxml
  text = _write(fmt)
  collection = (biocjson.loads(text) if fmt == "bioc_json" else
                biocxml.loads(text))
  assert collection.source == "tag_corpus.py"
  assert collection.date == "20260101"
  (doc,) = collection.documents
  assert doc.id == "99"
  assert [(p.offset, p.text, p.infons) for p in doc.passages] == [
      (0, "Aspirin and renal\nfailure.", {"type": "title"}),
      (27, "BRCA1 carriers.", {"section": "RESULTS", "type": "abstract"})]
  found = [(a.id, a.infons["type"], a.infons["model"], a.infons["score"],
            a.total_span.offset, a.total_span.length, a.text)
           for p in doc.passages for a in p.annotations]
  assert found == [("T1", "Chemical", "m", "0.9", 0, 7, "Aspirin"),
                   ("T2", "Disease", "m", "0.5", 12, 13, "renal\nfailure"),
                   ("T3", "Gene", "m", "1.0", 27, 5, "BRCA1")]
  (relation,) = doc.relations
  assert relation.infons == {"type": "GAD", "model": "re", "score": "0.75"}
  assert [(n.refid, n.role) for n in relation.nodes] == [("T3", "Arg1"),
                                                         ("T2", "Arg2")]
  assert isinstance(doc, bioc.BioCDocument)


def test_jsonl_writer_keeps_the_tagged_document():
  assert json.loads(_write("jsonl")) == _tagged()


def test_shard_names():
  assert shards.shard_name("/x/pubmed24n0001.xml.gz", "bioc_json") == (
      "pubmed24n0001.bioc.json")
  assert shards.shard_name("a/b.bioc.xml", "pubtator") == "b.pubtator"
  assert shards.shard_name("notes", "jsonl") == "notes.jsonl"


UPDATE_FILE = """<?xml version="1.0" encoding="utf-8"?>
<PubmedArticleSet>
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="2">10002</PMID>
    <Article PubModel="Print">
      <ArticleTitle>Aspirin induced renal failure, revised.</ArticleTitle>
    </Article>
  </MedlineCitation>
</PubmedArticle>
<DeleteCitation>
  <PMID Version="1">10001</PMID>
  <PMID Version="1">10004</PMID>
</DeleteCitation>
</PubmedArticleSet>
"""


def test_pubmed_update_file_lists_its_deleted_citations(tmp_path):
  path = tmp_path / "pubmed24n1220.xml"
  path.write_text(UPDATE_FILE)
  assert list(readers.read(str(path), "pubmed")) == [
      documents.Document("10002", [documents.Passage(
          "title", 0, "Aspirin induced renal failure, revised.")]),
      documents.Deleted("%s:11" % path, ["10001", "10004"])]


# The command, with trained tiny models.

GAD_ROWS = [
    ("@GENE$ variants were associated with @DISEASE$.", "1"),
    ("@GENE$ was not linked to @DISEASE$ in this cohort.", "0"),
    ("Carriers of @GENE$ had more @DISEASE$.", "1"),
    ("No association of @GENE$ and @DISEASE$ was seen.", "0"),
] * 6


@pytest.fixture(scope="module")
def models(tiny_bert_dir, tmp_path_factory):
  """A typed NER run (Chemical, Disease, Gene) and a GAD run, tiny."""
  root = tmp_path_factory.mktemp("corpus_models")
  data = str(root / "ner_data")
  typed_ner_data(data)
  ner = str(root / "ner_typed")
  run_tool(["run_ner.py", "--do_train=true", "--do_predict=false",
            "--data_dir=" + data, "--output_dir=" + ner,
            "--max_seq_length=32", "--num_train_epochs=4",
            "--train_batch_size=8", "--learning_rate=3e-3", "--seed=1"] +
           bert_flags(tiny_bert_dir))
  gad = root / "gad_data"
  gad.mkdir()
  rows = "index\tsentence\tlabel\n" + "".join(
      "%d\t%s\t%s\n" % (i, s, l) for i, (s, l) in enumerate(GAD_ROWS))
  for name in ("train.tsv", "dev.tsv", "test.tsv"):
    write_file(gad / name, rows)
  re_dir = str(root / "re_gad")
  run_tool(["run_re.py", "--task_name=gad", "--do_train=true",
            "--do_predict=false", "--data_dir=" + str(gad),
            "--output_dir=" + re_dir, "--max_seq_length=32",
            "--num_train_epochs=2", "--train_batch_size=8",
            "--learning_rate=3e-3", "--seed=1"] + bert_flags(tiny_bert_dir))
  return {"ner": ner, "re": re_dir, "vocab": tiny_bert_dir["vocab"]}


def _tag(models, inputs, out, *extra, expect_ok=True, ner=None):
  return run_tool(["tag_corpus.py", "--input=" + inputs,
                   "--models=" + (ner or models["ner"]),
                   "--re_model=" + models["re"],
                   "--vocab_file=" + models["vocab"],
                   "--output_dir=" + str(out)] + list(extra),
                  expect_ok=expect_ok)


def _outputs(out):
  """{name: bytes} of the shards and errors.tsv of an output dir."""
  return {name: open(os.path.join(str(out), name), "rb").read()
          for name in sorted(os.listdir(str(out)))
          if not name.startswith(".") and name != "manifest.json"}


def _check_annotations(doc):
  texts = {p.offset: p.text for p in doc.passages}
  ids = {}
  for p in doc.passages:
    for a in p.annotations:
      loc = a.total_span
      assert p.text[loc.offset - p.offset:loc.end - p.offset] == a.text
      ids[a.id] = a.infons["type"]
  for r in doc.relations:
    assert r.infons["type"] == "GAD"
    assert [ids[n.refid].upper() for n in r.nodes] == ["GENE", "DISEASE"]
  return texts


def test_tags_every_format_and_resumes_nothing(models, tmp_path):
  from bioc import biocjson
  out = tmp_path / "tags"
  result = _tag(models, os.path.join(FILES, "*"), out)
  assert "Tagging 6 of 6 input files with ner_typed" in result.stdout
  assert "3 errors (%s)" % (out / "errors.tsv") in result.stdout
  assert result.stderr == ""
  names = sorted(os.listdir(str(out)))
  assert names == [".done", "bioc_collection.bioc.json",
                   "bioc_sample.bioc.json", "errors.tsv", "lines.bioc.json",
                   "manifest.json", "plain.bioc.json",
                   "pubmed_sample.bioc.json", "pubtator_sample.bioc.json"]
  assert (out / "errors.tsv").read_text() == (
      "source\tid\treason\n"
      "%s:3\t\tnot valid JSON (expected {\"id\", \"text\"} a line): "
      "Expecting value: line 1 column 1 (char 0)\n"
      "%s:4\t\t\"id\" is missing or not a string or number\n"
      "%s:28\t\tno PMID\n" % (_path("lines.jsonl"), _path("lines.jsonl"),
                              _path("pubmed_sample.xml")))
  n_annotations = 0
  for name in names:
    if name.endswith(".bioc.json"):
      with open(str(out / name), encoding="utf-8") as f:
        collection = biocjson.load(f)
      for doc in collection.documents:
        _check_annotations(doc)
        n_annotations += sum(len(p.annotations) for p in doc.passages)
  manifest = json.loads((out / "manifest.json").read_text())
  assert manifest["counts"]["documents"] == 13
  assert manifest["counts"]["errors"] == 3
  assert sum(manifest["counts"]["entities"].values()) == n_annotations > 0
  assert manifest["models"][0]["run_manifest"]["task"] == "ner"
  assert manifest["re_model"]["run_manifest"]["task"] == "gad"
  again = _tag(models, os.path.join(FILES, "*"), out)
  assert "Nothing to tag: all 6 shards are done" in again.stdout
  other = _tag(models, os.path.join(FILES, "*"), out, "--format=pubtator",
               expect_ok=False)
  assert other.returncode == 2
  assert ("holds a tagging run with other format (" in other.stderr)
  assert not (out / "plain.pubtator").exists()


def test_update_file_deletions_go_to_deleted_tsv(models, tmp_path):
  update = tmp_path / "pubmed24n1220.xml.gz"
  import gzip
  update.write_bytes(gzip.compress(UPDATE_FILE.encode("utf-8")))
  out = tmp_path / "tags"
  result = _tag(models, str(update), out, "--format=pubtator")
  assert ("2 PMIDs deleted by PubMed since earlier files (%s): drop their "
          "earlier annotations" % (out / "deleted.tsv")) in result.stdout
  assert "1 documents" in result.stdout and "2 deleted citations" in (
      result.stdout)
  assert (out / "deleted.tsv").read_text() == (
      "source\tid\n%s:11\t10001\n%s:11\t10004\n" % (update, update))
  assert (out / "pubmed24n1220.pubtator").read_text().startswith(
      "10002|t|Aspirin induced renal failure, revised.\n")
  manifest = json.loads((out / "manifest.json").read_text())
  assert (manifest["counts"]["documents"], manifest["counts"]["deleted"],
          manifest["counts"]["errors"]) == (1, 2, 0)


def _corpus(directory, n_files=3, n_docs=60):
  rng = random.Random(11)
  os.makedirs(directory)
  for k in range(n_files):
    lines = []
    for d in range(n_docs):
      text = " ".join(rng.choice(TYPED_VOCAB) for _ in range(12)) + ". " + (
          " ".join(rng.choice(TYPED_VOCAB) for _ in range(9)) + ".")
      lines.append(json.dumps({"id": "f%d-%d" % (k, d), "text": text}))
    write_file(os.path.join(directory, "part%d.jsonl" % k),
               "\n".join(lines) + "\n")
  return os.path.join(directory, "*.jsonl")


def _wait_for_parts(out, proc, n):
  parts = out / ".parts"
  deadline = time.time() + 120
  while not (parts.is_dir() and sum(len(files) for _, _, files in
                                    os.walk(str(parts))) >= n):
    assert time.time() < deadline and proc.poll() is None
    time.sleep(0.01)


def test_kill_9_ctrl_c_or_a_dead_worker_gives_the_same_bytes(models,
                                                              tmp_path):
  inputs = _corpus(str(tmp_path / "corpus"))
  whole = tmp_path / "whole"
  _tag(models, inputs, whole, "--part_size=5", "--format=pubtator")
  out = tmp_path / "killed"
  cmd = [sys.executable, "tag_corpus.py", "--input=" + inputs,
         "--models=" + models["ner"], "--re_model=" + models["re"],
         "--vocab_file=" + models["vocab"], "--output_dir=" + str(out),
         "--part_size=5", "--format=pubtator"]
  proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
  _wait_for_parts(out, proc, 3)
  os.killpg(proc.pid, signal.SIGKILL)  # the command and its Dask workers
  proc.wait()
  assert not (out / "part0.pubtator").exists()
  result = _tag(models, inputs, out, "--part_size=5", "--format=pubtator")
  assert "Tagging 3 of 3 input files" in result.stdout
  assert _outputs(out) == _outputs(whole)
  counts = [json.loads((d / "manifest.json").read_text())["counts"]
            for d in (whole, out)]
  assert counts[0] == counts[1]
  assert counts[0]["documents"] == 180
  assert counts[0]["relations"] > 0
  assert counts[0]["entities"]["Gene"] > 0

  # Ctrl-C (SIGINT to the whole process group, as a terminal sends it):
  # one line, no traceback of a worker, no process left; then resumed.
  import psutil
  out = tmp_path / "ctrl_c"
  proc = subprocess.Popen(
      cmd[:-3] + ["--output_dir=" + str(out), "--part_size=5",
                  "--format=pubtator"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      start_new_session=True,
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  _wait_for_parts(out, proc, 1)
  children = psutil.Process(proc.pid).children(recursive=True)
  os.killpg(proc.pid, signal.SIGINT)
  _, stderr = proc.communicate(timeout=120)
  assert proc.returncode == 130
  assert stderr == ("interrupted: stopped by Ctrl-C; run the same command "
                    "again: it goes on from the last documents written\n")
  # Its workers may take a moment more to end on a loaded machine.
  _, alive = psutil.wait_procs(children, timeout=60)
  assert not alive
  _tag(models, inputs, out, "--part_size=5", "--format=pubtator")
  assert _outputs(out) == _outputs(whole)

  two = tmp_path / "two_workers"
  _tag(models, inputs, two, "--part_size=5", "--format=pubtator",
       "--workers=2")
  assert _outputs(two) == _outputs(whole)

  # One of two workers killed mid-shard: Dask gives its shard to a worker
  # again, which resumes from the shard's parts.
  out = tmp_path / "worker_killed"
  proc = subprocess.Popen(cmd[:-2] + ["--output_dir=" + str(out),
                                      "--part_size=5", "--format=pubtator",
                                      "--workers=2"],
                          cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  parts = out / ".parts"
  deadline = time.time() + 120
  while not (parts.is_dir() and any(files for _, _, files in
                                    os.walk(str(parts)))):
    assert time.time() < deadline and proc.poll() is None
    time.sleep(0.01)
  workers = [p for p in psutil.Process(proc.pid).children()
             if "spawn_main" in " ".join(p.cmdline())]
  assert len(workers) == 2
  workers[0].kill()
  stdout, _ = proc.communicate(timeout=300)
  assert proc.returncode == 0
  assert "Tagged 180 documents" in stdout
  assert _outputs(out) == _outputs(whole)


def test_bad_commands_exit_2_and_write_nothing(models, tmp_path):
  out = tmp_path / "out"
  cases = [
      (["--input=" + str(tmp_path / "none*.xml")], "no file matches"),
      (["--input=" + _path("plain.txt"), "--format=brat"],
       "--format=brat: expected one of bioc_json, bioc_xml, pubtator, jsonl"),
      (["--input=" + _path("plain.txt"), "--part_size=0"],
       "--part_size=0: expected a whole number >= 1"),
  ]
  for extra, message in cases:
    result = _tag(models, extra[0].split("=", 1)[1], out, *extra[1:],
                  expect_ok=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
  result = _tag(models, _path("plain.txt"), out, expect_ok=False,
                ner=models["re"])
  assert result.returncode == 2
  assert "re_gad is a re run (gad); expected ner" in result.stderr
  assert not out.exists()


# Results that must never be stale, mixed or written over their inputs.

_TRAIN_FURTHER = """
import sys
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
run = sys.argv[1]
latest = tf.train.latest_checkpoint(run)
step = int(latest.rsplit("-", 1)[1])
reader = tf.train.load_checkpoint(latest)
with tf.Graph().as_default(), tf.Session() as session:
  variables = []
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if name == "output_bias":
      value = value + 0.5
    variables.append(tf.Variable(value, name=name))
  session.run(tf.global_variables_initializer())
  tf.train.Saver(variables).save(session, run + "/model.ckpt", step + 1)
"""


def test_changed_inputs_and_models_are_redone_or_refused(models, tmp_path):
  import shutil
  docs = tmp_path / "docs.jsonl"
  first = '{"id": "1", "text": "Aspirin induced renal failure."}\n'
  write_file(docs, first)
  out = tmp_path / "tags"
  _tag(models, str(docs), out, "--format=jsonl")
  # The same size, another text: refused, then tagged again on request.
  write_file(docs, first.replace("Aspirin", "BRCA1xx"))
  result = _tag(models, str(docs), out, "--format=jsonl", expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == (
      "error: 1 input file changed since it was tagged into %s: %s. Run with "
      "--redo_changed to tag it again, or use a new --output_dir.\n" %
      (out, docs))
  redone = _tag(models, str(docs), out, "--format=jsonl", "--redo_changed")
  assert "Tagging again the shard of 1 changed input file" in redone.stdout
  fresh = tmp_path / "fresh"
  _tag(models, str(docs), fresh, "--format=jsonl")
  assert _outputs(out) == _outputs(fresh)
  assert "BRCA1xx" in (out / "docs.jsonl").read_text()
  # A model trained further in its own dir is another model.
  ner = tmp_path / "ner"
  shutil.copytree(models["ner"], ner)
  _tag(models, str(docs), tmp_path / "by_copy", "--format=jsonl",
       ner=str(ner))
  run_tool(["-c", _TRAIN_FURTHER, str(ner)])
  again = _tag(models, str(docs), tmp_path / "by_copy", "--format=jsonl",
               ner=str(ner), expect_ok=False)
  assert again.returncode == 2
  assert "holds a tagging run with other models" in again.stderr


def test_outputs_are_never_written_over_inputs_or_into_other_dirs(models,
                                                                   tmp_path):
  d = tmp_path / "d"
  d.mkdir()
  docs = write_file(d / "docs.jsonl", '{"id": "1", "text": "Aspirin."}\n')
  result = _tag(models, docs, d, "--format=jsonl", expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == (
      "error: --output_dir=%s: docs.jsonl would be written over the input "
      "%s; use another --output_dir\n" % (d, docs))
  assert sorted(os.listdir(d)) == ["docs.jsonl"]
  other = tmp_path / "other"
  other.mkdir()
  (other / "notes.txt").write_text("mine")
  result = _tag(models, docs, other, expect_ok=False)
  assert result.returncode == 2
  assert result.stderr.startswith(
      "error: --output_dir=%s is not empty (notes.txt) and holds no "
      "manifest.json" % other)
  assert sorted(os.listdir(other)) == ["notes.txt"]


def test_damaged_inputs_and_ids_pubtator_cannot_hold(models, tmp_path):
  import gzip
  plain = write_file(tmp_path / "plain.jsonl.gz", '{"id": 1, "text": "x"}\n')
  result = _tag(models, plain, tmp_path / "a", expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == ("error: --input: %s cannot be read: Not a gzipped "
                           "file (b'{\"')\n" % plain)
  lines = "".join('{"id": "%d", "text": "Aspirin %d."}\n' % (k, k)
                  for k in range(30000)).encode()
  data = gzip.compress(lines)
  cut = tmp_path / "cut.jsonl.gz"
  cut.write_bytes(data[:len(data) // 2])
  odd = write_file(tmp_path / "odd.jsonl", json.dumps(
      {"id": "a\tb", "text": "Aspirin."}) + "\n" + json.dumps(
          {"id": "ok", "text": "Aspirin."}) + "\n")
  out = tmp_path / "out"
  result = _tag(models, "%s,%s" % (cut, odd), out, "--format=pubtator",
                "--part_size=5000")
  assert result.stderr == ""
  rows = (out / "errors.tsv").read_text().splitlines()
  assert rows[0] == "source\tid\treason"
  kept = int(rows[1].split("\t")[1])
  assert rows[1] == (
      "%s\t%d\tthe file cannot be read after document %d, the rest is not "
      "read: Compressed file ended before the end-of-stream marker was "
      "reached" % (cut, kept, kept))
  assert rows[2] == ("%s\ta\\tb\tits id holds a tab, which PubTator cannot "
                     "hold (write BioC or JSON Lines)" % odd)
  assert len(rows) == 3
  shard = (out / "cut.pubtator").read_text()
  assert shard.count("|t|") == kept + 1  # documents 0..kept, all of them
  assert (out / "odd.pubtator").read_text().startswith("ok|t|Aspirin.\n")


@pytest.mark.parametrize("delay", [0.1, 0.8, 1.6, 2.5, 3.5, 5.0])
def test_ctrl_c_at_every_phase_of_start_up(models, tmp_path, delay):
  """Ctrl-C while Python imports, the inputs and models are checked, the
  cluster starts or the models load: one line, exit 130 (or, when the
  command finished first, its result), no process left, never ignored."""
  import psutil
  docs = write_file(tmp_path / "docs.jsonl", "".join(
      '{"id": "%d", "text": "Aspirin induced renal failure."}\n' % k
      for k in range(50)))
  out = tmp_path / "out"
  proc = subprocess.Popen(
      [sys.executable, "tag_corpus.py", "--input=" + docs,
       "--models=" + models["ner"], "--vocab_file=" + models["vocab"],
       "--output_dir=" + str(out), "--part_size=5"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      start_new_session=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  time.sleep(delay)
  children = psutil.Process(proc.pid).children(recursive=True)
  os.killpg(proc.pid, signal.SIGINT)
  stdout, stderr = proc.communicate(timeout=120)
  if proc.returncode == 0:  # it was done before the signal came
    assert "Tagged 50 documents" in stdout
  else:
    assert proc.returncode == 130, stderr
    assert stderr == ("interrupted: stopped by Ctrl-C; run the same command "
                      "again: it goes on from the last documents written\n")
  _, alive = psutil.wait_procs(children, timeout=60)
  assert not alive


def test_damaged_records_are_redone_or_named(models, tmp_path):
  docs = write_file(tmp_path / "docs.jsonl", "".join(
      '{"id": "%d", "text": "Aspirin induced renal failure."}\n' % k
      for k in range(12)))
  out = tmp_path / "out"
  _tag(models, docs, out, "--format=jsonl", "--part_size=5")
  whole = _outputs(out)
  done = out / ".done" / "docs.jsonl.json"
  done.write_text(done.read_text()[:20])  # a truncated done record
  again = _tag(models, docs, out, "--format=jsonl", "--part_size=5")
  assert "Tagging 1 of 1 input files" in again.stdout
  assert _outputs(out) == whole
  # A damaged part and those after it are tagged again.
  os.remove(str(done))
  os.remove(str(out / "docs.jsonl"))
  parts = out / ".parts" / "docs.jsonl"
  parts.mkdir(parents=True)
  (parts / "part-00000.json").write_text('{"records": 5, "docum')
  (parts / "part-00001.json").write_text('{"records": 5}')
  _tag(models, docs, out, "--format=jsonl", "--part_size=5")
  assert _outputs(out) == whole
  assert not parts.exists()
  manifest = out / "manifest.json"
  manifest.write_text(manifest.read_text()[:30])
  result = _tag(models, docs, out, "--format=jsonl", "--part_size=5",
                expect_ok=False)
  assert result.returncode == 2
  assert result.stderr.startswith("error: %s:" % manifest)
  assert "not valid JSON (expected the manifest tag_corpus.py writes)" in (
      result.stderr)
  assert result.stderr.count("\n") == 1


def test_help_shows_defaults_and_plain_text_ids_are_told(models, tmp_path):
  help_text = run_tool(["tag_corpus.py", "--help"]).stdout
  assert "documents between two resume points (default: 200)" in help_text
  assert "output: bioc_json, bioc_xml, pubtator, jsonl (default: bioc_json)" \
      in " ".join(help_text.split())
  result = _tag(models, _path("plain.txt"), tmp_path / "out")
  assert ("Plain text (plain.txt): one document a line, its id the line "
          "number\n") in result.stdout


def test_documents_with_a_repeated_id_are_kept_and_told(models, tmp_path):
  docs = write_file(tmp_path / "docs.jsonl", "".join(
      '{"id": "%s", "text": "Aspirin induced renal failure %d."}\n' % (i, k)
      for k, i in enumerate(["a", "b", "a", "c", "b"])))
  out = tmp_path / "out"
  result = _tag(models, docs, out, "--format=jsonl", "--part_size=2")
  lines = (out / "docs.jsonl").read_text().splitlines()
  assert [json.loads(l)["id"] for l in lines] == ["a", "b", "a", "c", "b"]
  assert ("2 documents have the id of an earlier document of the same input "
          "(each is tagged and written): a in docs.jsonl, b in docs.jsonl\n"
          ) in result.stdout
  manifest = json.loads((out / "manifest.json").read_text())
  assert manifest["counts"]["repeated_ids"] == 2
