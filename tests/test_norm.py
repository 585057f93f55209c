"""Concept normalization: lexicons, mention text, scoring, run_norm.py."""

import gzip
import json
import os

import numpy as np
import pytest

import tokenization

from biocodes import concept_eval
from biocodes import lexicon
from biocodes import norm_text
from finetuning import errors
from tasks import norm
from tests import norm_fixture
from tests import tiny_bert
from tests.helpers import bert_flags
from tests.helpers import run_tool
from tests.helpers import write_file

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "..", "shared", "data", "official")
MEDIC = os.path.join(SHARED, "lexicons", "MEDIC", "medic_06Jul2012.txt")


def test_the_three_lexicon_formats(tmp_path):
  medic = lexicon.read(write_file(
      tmp_path / "medic.txt", "C567755|613097||Tooth Agenesis, Selective, 6|"
      "STHAG6\nD003924||Diabetes Mellitus, Type 2|NIDDM\n"))
  assert medic.format == lexicon.MEDIC
  assert medic.names == ("Tooth Agenesis, Selective, 6", "STHAG6",
                         "Diabetes Mellitus, Type 2", "NIDDM")
  assert medic.concepts[0] == ("C567755", "OMIM:613097")
  ctd = tmp_path / "CTD_diseases.tsv.gz"
  with gzip.open(ctd, "wt") as f:
    f.write("# Fields:\n# DiseaseName\tDiseaseID\t...\n"
            "Diabetes Mellitus, Type 2\tMESH:D003924\tDO:DOID:9352|"
            "OMIM:125853\t\t\t\t\tNIDDM|Type 2 Diabetes\t\n")
  ctd = lexicon.read(str(ctd))
  assert ctd.format == lexicon.CTD
  assert ctd.names == ("Diabetes Mellitus, Type 2", "NIDDM",
                       "Type 2 Diabetes")
  assert ctd.concepts[0] == ("D003924", "OMIM:125853")
  tsv = lexicon.read(write_file(tmp_path / "ids.tsv",
                                "MESH:D003924\tNIDDM\nD001943\tbreast "
                                "cancer\nD001944\tNIDDM\n"))
  assert tsv.format == lexicon.TSV
  assert tsv.concepts == (("D003924",), ("D001943",), ("D001944",))
  # The same name under two concepts: kept under each, counted.
  assert (tsv.names.count("NIDDM"), tsv.ambiguous, tsv.num_concepts) == (
      2, 1, 3)


@pytest.mark.parametrize("text, line, message", [
    ("D1||name\nD2 name without separator\n", 2, "expected ids||name"),
    ("D1||name\n||no id\n", 2, "expected ids||name"),
    ("D1\tname\nD2\n", 2, "expected id<TAB>name"),
    ("D1\tname\nD2\ta\tb\n", 2, "expected id<TAB>name"),
])
def test_malformed_lexicon_lines(tmp_path, text, line, message):
  path = write_file(tmp_path / "lex.txt", text)
  with pytest.raises(errors.InputError) as e:
    lexicon.read(path)
  assert (e.value.path, e.value.line) == (path, line)
  assert message in e.value.message


def test_empty_and_missing_lexicons(tmp_path):
  with pytest.raises(errors.InputError, match="empty, or not a lexicon"):
    lexicon.read(write_file(tmp_path / "empty.txt", "\n"))
  with pytest.raises(errors.InputError, match="not a lexicon"):
    lexicon.read(write_file(tmp_path / "comments.tsv", "# only\n"))
  with pytest.raises(errors.InputError, match="file not found"):
    lexicon.read(str(tmp_path / "missing.txt"))


def test_medic_copy_reads():
  medic = lexicon.read(MEDIC)
  assert (len(medic.names), medic.num_concepts, medic.ambiguous) == (
      76237, 11915, 957)


def test_concept_ids_have_one_spelling():
  assert [lexicon.canonical(c) for c in
          ["MESH:D003924", "D003924", "222100", "OMIM:222100", "DO:1"]] == [
              "D003924", "D003924", "OMIM:222100", "OMIM:222100", "DO:1"]
  assert lexicon.gold_parts("D011125|MESH:D009369") == (("D011125",),
                                                        ("D009369",))
  assert lexicon.gold_parts("D001943+D014424") == (("D001943", "D014424"),)
  assert lexicon.gold_parts("-1") == lexicon.gold_parts("-") == ()


def test_mention_text():
  assert norm_text.preprocess("Type-II  Diabetes, (Mellitus)") == (
      "type ii diabetes mellitus")
  assert norm_text.preprocess("Hemmorhage stroke", {"hemmorhage":
                                                    "haemorrhage"}) == (
                                                        "haemorrhage stroke")
  definitions = norm_text.abbreviations(
      "Patients with adenomatous polyposis coli (APC) were seen. APC is "
      "rare.")
  assert definitions == {"APC": "adenomatous polyposis coli"}
  assert norm_text.expand("APC", definitions) == "adenomatous polyposis coli"
  assert norm_text.expand("APCs", definitions) == "APCs"  # whole words only
  assert norm_text.expand("adenomatous polyposis coli (APC)",
                          definitions) == "adenomatous polyposis coli (APC)"
  assert norm_text.split_composite("breast and ovarian cancer", 2) == [
      "breast cancer", "ovarian cancer"]
  assert norm_text.split_composite(
      "colorectal, endometrial, and ovarian cancers", 3) == [
          "colorectal cancers", "endometrial cancers", "ovarian cancers"]
  assert norm_text.split_composite("colon cancer and leukemia", 2) == [
      "colon cancer", "leukemia"]
  assert norm_text.split_composite("breast cancer", 2) is None


def test_malformed_spelling_list(tmp_path):
  path = write_file(tmp_path / "spell.txt", "fist||first\nwrong\n")
  with pytest.raises(errors.InputError) as e:
    norm_text.read_spelling(path)
  assert e.value.line == 2


def test_queries_from_a_corpus(tmp_path):
  norm_fixture.write_corpus(str(tmp_path), 2, 1, 1)
  queries, counts = norm.read_queries(str(tmp_path / "train.pubtator"),
                                      set(), None)
  assert counts == norm.Counts(mentions=12, composites_split=2,
                               abbreviations_expanded=2)
  apc = [q for q in queries if q.text == "APC"]
  assert [q.forms for q in apc] == [("adenomatous polyposis coli",)] * 2
  composite = [q for q in queries if len(q.gold) == 2][0]
  assert composite.forms == ("breast cancer", "ovarian cancer")
  assert composite.gold == (("D001943",), ("D010051",))
  assert composite.where == str(tmp_path / "train.pubtator") + ":8"
  _, counts = norm.read_queries(str(tmp_path / "train.pubtator"),
                                {"Chemical"}, None)
  assert counts == norm.Counts(other_types=12)


def test_offsets_that_do_not_hold_the_mention_are_an_error(tmp_path):
  path = write_file(tmp_path / "bad.pubtator",
                    "1|t|Breast cancer.\n1|a|Text.\n"
                    "1\t0\t6\tBreast\tDisease\tD1\n"
                    "1\t0\t5\tcancer\tDisease\tD2\n\n")
  with pytest.raises(errors.InputError) as e:
    norm.read_queries(path, set(), None)
  assert (e.value.path, e.value.line) == (path, 4)
  assert "'cancer' is not the text at 0-5 ('Breas')" in e.value.message


def _index(tmp_path):
  return norm.build_index(lexicon.read(norm_fixture.write_lexicon(
      str(tmp_path / "lexicon.tsv"))), None)


def test_accuracy_counts_parts_mentions_and_missing_concepts(tmp_path):
  index = _index(tmp_path)
  by_form = {f: i for i, f in enumerate(index.forms)}
  q = lambda forms, gold: norm.Query("1", 0, 1, "x", "Disease", gold, forms,
                                     "f:1")
  queries = [
      q(("breast cancer",), (("D001943",),)),                 # right at 1
      q(("breast cancer",), (("D001943",),)),                 # a repeat
      q(("heart disease",), (("D003924",),)),                 # right at 2
      q(("breast cancer", "ovarian cancer"),                  # one part wrong
        (("D001943",), ("D010051",))),
      q(("breast and ovarian cancer",),                       # unsplit: any
        (("D001943",), ("D010051",))),
      q(("lost",), (("D999999",),)),                          # not in lexicon
  ]
  rankings = [
      [[by_form["breast cancer"]]],
      [[by_form["breast cancer"]]],
      [[by_form["heart disease"], by_form["type 2 diabetes"]]],
      [[by_form["breast cancer"]], [by_form["heart disease"]]],
      [[by_form["ovarian neoplasms"]]],
      [[by_form["heart disease"]]],
  ]
  scores = norm.accuracy(queries, rankings, index)
  assert scores == {"mentions": 6, "unique_queries": 5,
                    "acc@1": 0.4, "acc@5": 0.6,
                    "mention_acc@1": 0.5, "mention_acc@5": 0.6667,
                    "gold_not_in_lexicon": 1}
  baseline = norm.accuracy(queries, norm.dictionary_rankings(queries, index),
                           index)
  # Exact forms: "breast cancer" twice and both parts of the split composite.
  assert (baseline["acc@1"], baseline["mention_acc@1"]) == (0.4, 0.5)


def test_training_candidates_are_sparse_then_dense(tmp_path):
  index = _index(tmp_path)
  by_form = {f: i for i, f in enumerate(index.forms)}
  tokenizer = tokenization.FullTokenizer(tiny_bert.write_tiny_bert(
      str(tmp_path / "bert"), words=norm_fixture.WORDS)["vocab"], True)
  instances = [("breast tumors", ("D001943",))]
  retriever = norm.Retriever(index, instances, tokenizer, 32, topk=4,
                             dense_ratio=0.5)
  sparse = [index.forms[i] for i in retriever.sparse_top[0]]
  assert sparse == ["breast neoplasms", "breast cancer"]
  # Dense scores: one-hot embeddings make "heart disease" the best, then
  # "breast cancer" (already a sparse candidate), then "ovarian cancer".
  embeddings = np.zeros((len(index.forms), 3), np.float32)
  embeddings[by_form["heart disease"]] = [3, 0, 0]
  embeddings[by_form["breast cancer"]] = [2, 0, 0]
  embeddings[by_form["ovarian cancer"]] = [1, 0, 0]
  retriever.embeddings = embeddings
  ids, mask, scores, labels = retriever.candidates(
      np.array([[1, 0, 0]], np.float32), np.array([0]))
  assert ids.shape == mask.shape == (1, 4, 12)  # cut to the longest name
  chosen = [by_form[f] for f in ["breast neoplasms", "breast cancer",
                                 "heart disease", "ovarian cancer"]]
  assert retriever.mask[chosen].sum(-1).max() == 12
  assert (ids[0] == retriever.ids[chosen][:, :12]).all()
  assert labels.tolist() == [[1.0, 1.0, 0.0, 0.0]]
  expected = (index.vectorizer.transform(["breast tumors"]) @
              index.matrix[chosen].T).toarray()
  np.testing.assert_allclose(scores, expected, rtol=1e-6)


def test_embeddings_are_computed_by_length_and_put_back_in_order():
  ids = np.array([[5, 6, 7, 0], [5, 0, 0, 0], [5, 6, 0, 0]], np.int32)
  mask = (ids > 0).astype(np.int32)
  calls = []

  def embed(batch_ids, batch_mask):
    calls.append(batch_ids.shape)
    return batch_mask.sum(-1, keepdims=True) * np.ones((1, 2))

  out = norm.embed_in_batches(embed, ids, mask, batch_size=2)
  assert out.tolist() == [[3, 3], [1, 1], [2, 2]]
  assert calls == [(2, 2), (1, 3)]


def test_concept_eval_counts_document_concepts(tmp_path):
  gold = write_file(tmp_path / "gold.pubtator", (
      "1|t|A.\n1|a|B C D.\n1\t0\t1\tA\tDisease\tD1\n"
      "1\t3\t4\tB\tDisease\tMESH:D2|D3\n1\t5\t6\tC\tChemical\tD9\n"
      "1\t7\t8\tD\tDisease\t-1\n\n"
      "2|t|A.\n2|a|A.\n2\t0\t1\tA\tDisease\tD1\n\n"))
  predicted = write_file(tmp_path / "pred.pubtator", (
      "1|t|A.\n1|a|B C D.\n1\t0\t1\tA\tDisease\tMESH:D1\n"
      "1\t3\t4\tB\tDisease\tD2\n1\t7\t8\tD\tDisease\tD4\n\n"
      "2|t|A.\n2|a|A.\n2\t0\t1\tA\tDisease\t-1\n\n"
      "3|t|A.\n3|a|A.\n3\t0\t1\tA\tDisease\tD1\n\n"))
  g, documents, _ = concept_eval.concepts(gold)
  p, _, _ = concept_eval.concepts(predicted)
  scores = concept_eval.score(g, p, documents)
  assert scores["Disease"] == {"precision": 0.6667, "recall": 0.5,
                               "f1": 0.5714, "tp": 2, "predicted": 3,
                               "gold": 4}
  assert scores["Chemical"]["recall"] == 0.0
  assert scores["micro"] == {"precision": 0.6667, "recall": 0.4,
                             "f1": 0.5, "tp": 2, "predicted": 3, "gold": 5}
  result = run_tool(["biocodes/concept_eval.py", gold, predicted,
                     "--any_type"])
  assert result.stdout.splitlines()[1].split() == [
      "all", "66.67", "40.00", "50.00", "2", "3", "5"]
  assert "1 predicted documents are not in" in result.stdout
  missing = run_tool(["biocodes/concept_eval.py", gold,
                      str(tmp_path / "none")], expect_ok=False)
  assert missing.returncode == 2 and "file not found" in missing.stderr


def _norm_flags(bert, data, lexicon_path, out, *extra):
  return (["run_norm.py", "--data_dir=" + data, "--lexicon=" + lexicon_path,
           "--output_dir=" + out, "--train_batch_size=8",
           "--do_lower_case=false", "--topk=6", "--seed=1"] +
          bert_flags(bert) + list(extra))


def test_train_predict_and_score_concepts(tiny_bert_dir, tmp_path):
  """The tiny end-to-end run: train, predict, refuse another lexicon, and
  score the predicted PubTator file with concept_eval.py."""
  data = norm_fixture.write_corpus(str(tmp_path / "data"))
  lex = norm_fixture.write_lexicon(str(tmp_path / "lexicon.tsv"))
  out = str(tmp_path / "out")
  result = run_tool(_norm_flags(tiny_bert_dir, data, lex, out, "--do_train",
                                "--do_eval", "--do_predict",
                                "--num_train_epochs=2",
                                "--refresh_every_n_steps=2"))
  assert "Training on 15 (mention, concept) pairs of 120 mentions" in (
      result.stdout)
  assert ("Lexicon lexicon.tsv (id<TAB>name): 10 names of 5 concepts, 10 "
          "distinct after preprocessing\n") in result.stdout
  assert "dictionary baseline (exact match)" in result.stdout
  scores = json.load(open(os.path.join(out, norm.SCORES_FILE)))
  assert scores["model"]["mentions"] == 30
  assert scores["dictionary_baseline"]["acc@1"] == 0.6154
  assert scores["lexicon"]["sha256"] == lexicon.read(lex).digest
  assert scores["test_counts"]["composites_split"] == 5
  assert 0.0 <= scores["model"]["acc@1"] <= scores["model"]["acc@5"] <= 1.0
  lines = open(os.path.join(out, norm.PREDICTIONS_FILE)).read().splitlines()
  assert len(lines) == 30
  first = json.loads(lines[0])
  assert (first["text"], first["gold"], len(first["candidates"][0])) == (
      "breast cancer", "D001943", 6)
  eval_results = open(os.path.join(out, "eval_results.txt")).read()
  assert "eval_acc@1 = " in eval_results
  cached = sorted(os.listdir(os.path.join(out, norm.EMBEDDINGS_DIR)))
  # The prediction's cache, and the embeddings training drew its last
  # candidates with (refreshed at steps 0 and 2: 3 steps).
  assert len(cached) == 2 and cached[0].endswith(".npy")
  assert cached[1] == "training-step2.npy"
  # The predicted file scores with concept_eval.py, document by document.
  scored = run_tool(["biocodes/concept_eval.py",
                     os.path.join(data, "test.pubtator"),
                     os.path.join(out, norm.PUBTATOR_FILE)])
  assert scored.stdout.splitlines()[1].split()[0] == "Disease"
  # Predicting again reads the cached lexicon embeddings, same scores.
  again = run_tool(_norm_flags(tiny_bert_dir, data, lex, out,
                               "--do_predict"))
  assert "Predicted 10 examples" in result.stdout  # the lexicon's names
  assert "Predicted 10 examples" not in again.stdout
  assert json.load(open(os.path.join(out, norm.SCORES_FILE)))["model"] == (
      scores["model"])
  # Another lexicon than the one trained with: refused, nothing written.
  other = write_file(tmp_path / "other.tsv", "D001943\tbreast cancer\n")
  before = sorted(os.listdir(out))
  refused = run_tool(_norm_flags(tiny_bert_dir, data, other, out,
                                 "--do_predict"), expect_ok=False)
  assert refused.returncode == 2
  assert "--lexicon=%s: expected the lexicon the model in" % other in (
      refused.stderr)
  assert sorted(os.listdir(out)) == before


def test_bad_lexicon_exits_2_before_writing(tiny_bert_dir, tmp_path):
  data = norm_fixture.write_corpus(str(tmp_path / "data"), 2, 1, 1)
  bad = write_file(tmp_path / "bad.txt", "D1||one\nD2 two\n")
  out = str(tmp_path / "out")
  result = run_tool(_norm_flags(tiny_bert_dir, data, bad, out, "--do_train"),
                    expect_ok=False)
  assert result.returncode == 2
  assert "%s:2: expected ids||name|synonym|..." % bad in result.stderr
  assert "Traceback" not in result.stderr
  assert not os.path.exists(out)
  good = norm_fixture.write_lexicon(str(tmp_path / "lexicon.tsv"))
  missing = run_tool(_norm_flags(tiny_bert_dir, str(tmp_path), good, out,
                                 "--do_train"), expect_ok=False)
  assert "holds no PubTator corpus" in missing.stderr


def test_a_normalization_data_set_is_one_table_entry(tmp_path, monkeypatch):
  """docs/extending.md's chemical normalization set: the table reads it and
  the suite makes its run_norm.py flags."""
  from suite_runner import spec
  from tasks import datasets
  table = tmp_path / "datasets.toml"
  table.write_text(open(datasets.TABLE).read() + (
      '\n[BC5CDR-chem-norm]\ntask = "norm"\ndata_dir = "official/BC5CDR"\n'
      'mention_types = "Chemical"\nlexicon = "lexicons/mesh_chemicals.tsv"\n'
      'published = [{system = "BioSyn (BioBERT)", value = 96.6, source = '
      '"Sung et al. 2020, Table 2"}]\n'))
  monkeypatch.setattr(datasets, "TABLE", str(table))
  data = tmp_path / "data"
  (data / "official").mkdir(parents=True)
  os.symlink(os.path.join(SHARED, "BC5CDR"), str(data / "official" /
                                                 "BC5CDR"))
  (data / "lexicons").mkdir()
  write_file(data / "lexicons" / "mesh_chemicals.tsv", "D001241\taspirin\n")
  suite = write_file(tmp_path / "suite.toml", "seeds = [1]\n"
                     "[norm.BC5CDR-chem-norm]\n")
  jobs = spec.read(suite, str(data)).jobs
  assert [(j.task, j.dataset) for j in jobs] == [("norm", "BC5CDR-chem-norm")]
  assert jobs[0].flags == {
      "data_dir": str(data / "official" / "BC5CDR"),
      "lexicon": str(data / "lexicons" / "mesh_chemicals.tsv"),
      "mention_types": "Chemical"}
  assert jobs[0].metrics == ["acc1", "acc5"]
  bad = tmp_path / "bad.toml"
  bad.write_text('[X]\ntask = "ner"\ndata_dir = "x"\nmention_types = "A"\n')
  with pytest.raises(errors.InputError) as e:
    datasets.table(str(bad))
  assert e.value.line == 4


@pytest.mark.parametrize("weight", [0.002, 0.5, 50.0, -1.0])
def test_ranking_by_shortlist_is_exact(tmp_path, weight):
  """The shortlist of dense scores gives the ranking of every name: the
  same names and scores as scoring all, whatever the sparse weight (a
  large one makes rows fall back to all names)."""
  index = _index(tmp_path)
  rng = np.random.RandomState(0)
  forms = ["breast tumors", "ovarian cancers", "type ii diabetes",
           "cardiac disease", "polyposis", "heart"]
  names = rng.randn(len(index.forms), 8).astype(np.float32)
  mentions = rng.randn(len(forms), 8).astype(np.float32)
  ranked, scores = norm.rank(index, mentions, forms,
                             norm.DenseSearch(names), weight, k=3,
                             shortlist=4)
  full = mentions @ names.T + weight * norm.sparse_scores(index, forms)
  expected = norm.top_names(full, 3)
  assert ranked == expected.tolist()
  np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1),
                             rtol=1e-5)


def test_killed_and_rerun_equals_uninterrupted(tiny_bert_dir, tmp_path):
  """kill -9 between two refreshes of the lexicon's embeddings, then the
  same command: the same weights and scores as a run never stopped."""
  import signal
  import tensorflow.compat.v1 as tf
  from tests import test_resume
  data = norm_fixture.write_corpus(str(tmp_path / "data"))
  lex = norm_fixture.write_lexicon(str(tmp_path / "lexicon.tsv"))
  extra = ["--do_train", "--do_predict", "--train_batch_size=2",
           "--num_train_epochs=4", "--refresh_every_n_steps=3",
           "--save_checkpoints_steps=5", "--learning_rate=1e-3"]
  whole = str(tmp_path / "whole")
  run_tool(_norm_flags(tiny_bert_dir, data, lex, whole, *extra))
  broken = str(tmp_path / "broken")
  args = _norm_flags(tiny_bert_dir, data, lex, broken, *extra)
  code = test_resume._kill_after_checkpoint(args, broken, 10)
  assert code == -signal.SIGKILL, "finished before it was killed"
  rerun = run_tool(args)
  assert "Resuming training at step" in rerun.stdout
  a = test_resume._weights(whole)
  b = test_resume._weights(broken)
  assert sorted(a) == sorted(b)
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)
  assert (json.load(open(os.path.join(whole, norm.SCORES_FILE)))["model"] ==
          json.load(open(os.path.join(broken, norm.SCORES_FILE)))["model"])
  assert tf.train.latest_checkpoint(whole).endswith("-30")  # 15 pairs / 2 x 4


def test_dev_selection_keeps_the_best_epoch(tiny_bert_dir, tmp_path):
  """--eval_every_epoch --keep_best: acc@1 on the dev mentions after every
  epoch, the best kept in best/ and used for the test scores."""
  data = norm_fixture.write_corpus(str(tmp_path / "data"))
  lex = norm_fixture.write_lexicon(str(tmp_path / "lexicon.tsv"))
  out = str(tmp_path / "out")
  result = run_tool(_norm_flags(
      tiny_bert_dir, data, lex, out, "--do_train", "--do_predict",
      "--num_train_epochs=3", "--train_batch_size=4", "--eval_every_epoch",
      "--keep_best", "--learning_rate=1e-3"))
  history = [json.loads(l) for l in open(os.path.join(out,
                                                      "dev_scores.jsonl"))]
  assert [h["metric"] for h in history] == ["acc@1"] * 3
  assert "Using the best checkpoint on dev" in result.stdout
  assert os.path.isdir(os.path.join(out, "best"))


def test_the_suite_report_has_normalization_rows():
  from suite_runner import report
  from suite_runner import spec
  from tasks import datasets
  rows = [(spec.Job("norm", "NCBI-disease-norm", "all", seed, {},
                    ["acc1", "acc5"], "p%d" % seed),
           {"acc1": value, "acc5": value + 8}, 93)
          for seed, value in ((1, 72.08), (2, 71.79))]
  summary = report.summarize(rows, datasets.table())
  text = report.markdown(summary, "t", [])
  line = [l for l in text.splitlines() if "NCBI-disease-norm" in l][0]
  assert line.startswith("| NORM | NCBI-disease-norm | acc@1 | 2 |")
  assert "BioSyn (BioBERT) 91.10" in line
