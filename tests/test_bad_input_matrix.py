"""Every reader and flag of the three runners and the scoring tools, fed bad
input: exit 2, one `error:` line naming the file (and line) or the flag, no
traceback, nothing written; then the corrected command succeeds in the same
--output_dir."""

import json
import os
import shutil

import pytest

from tests import bioasq_fixture
from tests.conftest import DATA
from tests.helpers import bert_flags, run_tool, slice_sentences, write_file
from tests.test_re import _gad_slice

NCBI = os.path.join(DATA, "NER", "NCBI-disease")


@pytest.fixture(scope="module")
def world(tiny_bert_dir, tmp_path_factory):
  """Good inputs for each runner, and a folder for bad copies."""
  base = tmp_path_factory.mktemp("matrix")
  ner = base / "ner"
  ner.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(ner / "train_dev.tsv"), 24)
  slice_sentences(os.path.join(NCBI, "devel.tsv"), str(ner / "devel.tsv"), 8)
  slice_sentences(os.path.join(NCBI, "test.tsv"), str(ner / "test.tsv"), 8)
  gad = str(base / "gad")
  _gad_slice(os.path.join(DATA, "RE", "GAD", "1"), gad, 32, 8)
  qa = base / "qa"
  qa.mkdir()
  return {"base": base, "bert": tiny_bert_dir, "ner": str(ner), "gad": gad,
          "qa": bioasq_fixture.write(qa)}


def _bad(world, name, content):
  """A file `name` with `content` (bytes or str) in the bad-copies folder."""
  path = world["base"] / "bad" / name
  path.parent.mkdir(parents=True, exist_ok=True)
  if isinstance(content, bytes):
    path.write_bytes(content)
  else:
    path.write_text(content, encoding="utf-8")
  return str(path)


def _config(world, **change):
  with open(world["bert"]["config"]) as f:
    values = json.load(f)
  for key, value in change.items():
    if value is None:
      values.pop(key)
    else:
      values[key] = value
  return _bad(world, "bert_config_%s.json" % "_".join(sorted(change)),
              json.dumps(values))


def _vocab(world, name, transform):
  with open(world["bert"]["vocab"], encoding="utf-8") as f:
    pieces = f.read().splitlines()
  return _bad(world, name, "\n".join(transform(pieces)) + "\n")


def _ckpt_copy(world, name, damage):
  src = world["bert"]
  dst = world["base"] / "bad" / name
  dst.mkdir(parents=True, exist_ok=True)
  for f in os.listdir(src["dir"]):
    if f.startswith("model.ckpt"):
      shutil.copy(os.path.join(src["dir"], f), str(dst))
  prefix = str(dst / "model.ckpt")
  damage(prefix)
  return prefix


def _truncate(path):
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def _data_copy(world, task, name, files):
  """A copy of a data dir with `files` ({name: text}) replaced."""
  dst = world["base"] / "bad" / name
  if not dst.exists():
    shutil.copytree(world[task], str(dst))
    for fname, text in files.items():
      (dst / fname).write_bytes(text if isinstance(text, bytes) else
                                text.encode("utf-8"))
  return str(dst)


def _without(world, task, name, fname):
  """A copy of a data dir without the file `fname`."""
  path = _data_copy(world, task, name, {})
  if os.path.exists(os.path.join(path, fname)):
    os.remove(os.path.join(path, fname))
  return path


NER_BASE = ["--do_train=true", "--do_eval=true", "--do_predict=true",
            "--max_seq_length=32", "--train_batch_size=8",
            "--num_train_epochs=1", "--seed=1"]
RE_BASE = ["--task_name=gad", "--do_train=true", "--do_predict=true",
           "--max_seq_length=48", "--train_batch_size=8",
           "--num_train_epochs=1", "--do_lower_case=false"]
QA_BASE = ["--do_train=true", "--do_predict=true", "--max_seq_length=96",
           "--doc_stride=32", "--max_query_length=24",
           "--train_batch_size=4", "--num_train_epochs=1",
           "--do_lower_case=false"]


def _ner_data(w, name, files):
  return {"data_dir": _data_copy(w, "ner", name, files)}


# (id, runner, function of the world giving {flag: value} overrides,
#  expected text of the error line, or a function of the world giving it)
CASES = [
    # Numeric flags (each one is checked in-process by tests/test_config.py;
    # here one a runner, end to end).
    ("ner-seq0", "ner", lambda w: {"max_seq_length": "0"},
     "--max_seq_length=0: expected a whole number >= 3"),
    ("ner-epochs-nan", "ner", lambda w: {"num_train_epochs": "nan"},
     "--num_train_epochs=nan: expected a finite number > 0"),
    ("ner-cache-file", "ner",
     lambda w: {"cache_dir": _bad(w, "a_file", "x")},
     "/bad/a_file: expected a directory (%s is a file)"),
    # bert_config.json.
    ("cfg-dir", "ner", lambda w: {"bert_config_file": str(w["base"])},
     "is a directory (expected bert_config.json)"),
    ("cfg-no-layers", "ner",
     lambda w: {"bert_config_file": _config(w, num_hidden_layers=None)},
     '"num_hidden_layers" is missing'),
    ("cfg-no-vocab-size", "ner",
     lambda w: {"bert_config_file": _config(w, vocab_size=None)},
     '"vocab_size" is missing'),
    ("cfg-string", "ner",
     lambda w: {"bert_config_file": _config(w, hidden_size="32")},
     "\"hidden_size\" is '32': expected a whole number >= 1"),
    ("cfg-heads", "ner",
     lambda w: {"bert_config_file": _config(w, num_attention_heads=5)},
     "hidden_size 32 is not a multiple of num_attention_heads 5"),
    ("cfg-act", "ner",
     lambda w: {"bert_config_file": _config(w, hidden_act="swish")},
     "\"hidden_act\" is 'swish'"),
    ("cfg-binary", "ner",
     lambda w: {"bert_config_file": _bad(w, "cfg.bin", b"\x00\xff\xfe")},
     ":1: not UTF-8 text"),
    ("cfg-vs-ckpt", "ner",
     lambda w: {"bert_config_file": _config(w, intermediate_size=48)},
     "the checkpoint and the config do not belong together"),
    # vocab.txt.
    ("vocab-dir", "ner", lambda w: {"vocab_file": str(w["base"])},
     "--vocab_file=%s: is a directory"),
    ("vocab-empty", "ner", lambda w: {"vocab_file": _bad(w, "v0.txt", "")},
     "v0.txt: file is empty"),
    ("vocab-binary", "ner",
     lambda w: {"vocab_file": _bad(w, "v1.txt", b"[PAD]\n\xff\xfe\n")},
     "v1.txt:2: not UTF-8 text"),
    ("vocab-no-cls", "ner",
     lambda w: {"vocab_file": _vocab(w, "v2.txt", lambda p: [
         x for x in p if x != "[CLS]"])}, "[CLS] missing"),
    ("vocab-dup", "ner", lambda w: {"vocab_file": _vocab(
        w, "v3.txt", lambda p: p[:-1] + [p[10]])}, "is already on line 11"),
    ("vocab-too-big", "ner", lambda w: {"vocab_file": _vocab(
        w, "v4.txt", lambda p: p + ["zzz"])}, "more than the model's "
     "vocab_size"),
    # --init_checkpoint.
    ("ckpt-missing", "ner",
     lambda w: {"init_checkpoint": str(w["base"] / "nope" / "model.ckpt")},
     "no readable checkpoint there"),
    ("ckpt-truncated", "ner", lambda w: {"init_checkpoint": _ckpt_copy(
        w, "trunc", lambda p: _truncate(p + ".data-00000-of-00001"))},
     "no readable checkpoint there"),
    ("ckpt-garbage", "ner", lambda w: {"init_checkpoint": _ckpt_copy(
        w, "garbage", lambda p: open(p + ".index", "wb").write(b"junk"))},
     "no readable checkpoint there"),
    # NER data.
    ("ner-fields", "ner", lambda w: _ner_data(
        w, "n1", {"train_dev.tsv": "a\tO\nb\n"}),
     "train_dev.tsv:2: expected 'token<TAB>tag' (2 fields), found 1"),
    ("ner-tag", "ner", lambda w: _ner_data(
        w, "n2", {"train_dev.tsv": "a\tO\nb\tDisease\n"}),
     "train_dev.tsv:2: expected a BIO tag"),
    ("ner-utf8", "ner", lambda w: _ner_data(
        w, "n3", {"train_dev.tsv": b"a\tO\n\xffb\tO\n"}),
     "train_dev.tsv:2: not UTF-8 text: byte 0xff at column 1"),
    ("ner-unseen-tag", "ner", lambda w: _ner_data(
        w, "n4", {"test.tsv": "BRCA1\tB-Gene\n"}),
     "test.tsv:1: tag 'B-Gene' is not in the label list"),
    ("ner-no-test", "ner", lambda w: {"data_dir": _without(
        w, "ner", "n5", "test.tsv")}, "test.tsv: file not found"),
    ("ner-raw-dir", "ner", lambda w: {"raw_text_file": str(w["base"])},
     "is a directory (expected plain text"),
    ("ner-no-model", "ner", lambda w: {"do_train": "false"},
     "holds no trained model"),
    ("ner-keep-best", "ner", lambda w: {"keep_best": "true"},
     "--keep_best and --early_stopping_patience need dev evaluations"),
    # Checks that depend on the data, made before anything is written.
    # (24 sentences are 99 windows of 32 pieces.)
    ("ner-epochs-no-step", "ner", lambda w: {"num_train_epochs": "0.01"},
     "99 training examples at --train_batch_size=8 and --num_train_epochs="
     "0.01 make no training step: a step takes 8 examples; raise "
     "--num_train_epochs or lower --train_batch_size"),
    ("ner-accumulation-over-epoch", "ner",
     lambda w: {"gradient_accumulation_steps": "16"},
     "99 training examples at --train_batch_size=8, "
     "--gradient_accumulation_steps=16 and --num_train_epochs=1 make no "
     "training step: a step takes 128 examples; raise --num_train_epochs or "
     "lower --gradient_accumulation_steps"),
    ("ner-cache-under-file", "ner", lambda w: {
        "cache_dir": os.path.join(_bad(w, "cache_file", "x"), "sub")},
     lambda w: "--cache_dir=%s/sub: expected a directory (%s is a file)" % (
         (w["base"] / "bad" / "cache_file",) * 2)),
    ("ner-cache-read-only", "ner", lambda w: {
        "cache_dir": "/sys/biobert_cache"},
     "--cache_dir=/sys/biobert_cache: expected a directory you can write in"),
    ("ner-output-under-file", "ner", lambda w: {
        "output_dir": os.path.join(_bad(w, "out_file2", "x"), "out")},
     lambda w: "--output_dir=%s/out: expected a directory (%s is a file)" % (
         (w["base"] / "bad" / "out_file2",) * 2)),
    ("ner-raw-output-dir", "ner", lambda w: {
        "raw_text_file": _bad(w, "raw.txt", "BRCA1 mutations .\n"),
        "raw_output_file": str(w["base"])},
     "expected a file name (this is a directory)"),
    ("ner-raw-output-is-input", "ner", lambda w: {
        "raw_text_file": _bad(w, "raw.txt", "BRCA1 mutations .\n"),
        "raw_output_file": _bad(w, "raw.txt", "BRCA1 mutations .\n")},
     "expected another file than --raw_text_file (writing the results would "
     "overwrite the input)"),
    # run_re.py.
    ("re-test-header-only", "re", lambda w: {"data_dir": _data_copy(
        w, "gad", "r3", {"test.tsv": "index\tsentence\tlabel\n"})},
     "test.tsv: holds a header but no example"),
    ("re-raw-surrogate", "re", lambda w: {"raw_text_file": _bad(
        w, "pairs.jsonl", '{"text": "BRCA1 \\ud83d cancer", "entities": []}\n'
    )}, "pairs.jsonl:1: \\ud83d is half a UTF-16 surrogate pair"),
    ("re-raw-nan", "re", lambda w: {"raw_text_file": _bad(
        w, "pairs2.jsonl", '{"text": "x", "entities": []}\n'
        '{"text": "y", "entities": [], "score": NaN}\n')},
     "pairs2.jsonl:2: NaN is not a finite number"),
    ("re-empty-dev", "re", lambda w: {"eval_every_epoch": "true"},
     "dev.tsv is empty"),
    ("re-task", "re", lambda w: {"task_name": "gadd"},
     "--task_name=gadd: expected a relation data set of tasks/datasets.toml: "
     "ChemProt, ChemProt-BLURB"),
    ("re-label", "re", lambda w: {"data_dir": _data_copy(
        w, "gad", "r1", {"train.tsv": "s @GENE$ a\t1\ns b\t2\n"})},
     "train.tsv:2: label '2' is not one of the task's labels"),
    ("re-columns", "re", lambda w: {"data_dir": _data_copy(
        w, "gad", "r2", {"test.tsv": "index\tsentence\tlabel\n0\ta\n"})},
     "test.tsv:2: expected 3 tab-separated fields"),
    # run_qa.py.
    ("qa-stride0", "qa", lambda w: {"doc_stride": "0"},
     "--doc_stride=0: expected a whole number >= 1"),
    ("qa-query", "qa", lambda w: {"max_query_length": "100"},
     "must be greater than max_query_length"),
    ("qa-train-dir", "qa", lambda w: {"train_file": str(w["base"])},
     "is a directory (expected SQuAD-format JSON)"),
    ("qa-paragraphs", "qa", lambda w: {"train_file": _bad(
        w, "p.json", json.dumps({"data": [{"paragraphs": "text"}]}))},
     "data[0].paragraphs: expected a list, found str"),
    ("qa-qas", "qa", lambda w: {"predict_file": _bad(
        w, "q.json", json.dumps({"data": [{"paragraphs": [
            {"context": "x", "qas": ["what?"]}]}]}))},
     "data[0].paragraphs[0].qas[0]: expected an object"),
    ("qa-not-json", "qa", lambda w: {"predict_file": _bad(
        w, "n.json", '{"data": [\n')}, "n.json:2: not valid JSON"),
    ("qa-golden-id", "qa", lambda w: {"golden_file": _bad(
        w, "g.json", json.dumps({"questions": [{"id": ["x"]}]}))},
     "questions[0]: expected an object with a string \"id\""),
    ("qa-golden-dir", "qa", lambda w: {"golden_file": str(w["base"])},
     "is a directory"),
    ("qa-duplicate-id", "qa", lambda w: {"predict_file": _bad(
        w, "dup.json", json.dumps({"data": [{"paragraphs": [
            {"context": "BRCA1 causes cancer.", "qas": [
                {"id": "%024d_001" % 1, "question": "Which gene?"}]},
            {"context": "TNF is blocked.", "qas": [
                {"id": "%024d_001" % 1, "question": "Which gene?"}]}]}]},
            indent=1))},
     "dup.json:18: data[0].paragraphs[1].qas[0]: qas id "
     "'000000000000000000000001_001' is already "
     "data[0].paragraphs[0].qas[0]"),
    ("qa-snippet-surrogate", "qa", lambda w: {"predict_file": _bad(
        w, "sur.json", '{"data": [{"paragraphs": [\n{"context": "BRCA1 '
        '\\udc00", "qas": []}]}]}')},
     "sur.json:2: \\udc00 is half a UTF-16 surrogate pair"),
]


def _command(world, runner, out, overrides):
  if runner == "ner":
    flags = dict(a[2:].split("=", 1) for a in NER_BASE)
    flags["data_dir"] = world["ner"]
  elif runner == "re":
    flags = dict(a[2:].split("=", 1) for a in RE_BASE)
    flags["data_dir"] = world["gad"]
  else:
    flags = dict(a[2:].split("=", 1) for a in QA_BASE)
    flags.update(train_file=world["qa"]["train.json"],
                 predict_file=world["qa"]["test.json"],
                 golden_file=world["qa"]["golden.json"])
  for f in bert_flags(world["bert"]):
    name, value = f[2:].split("=", 1)
    flags[name] = value
  flags["output_dir"] = str(out)
  flags.update(overrides)
  return ["run_%s.py" % runner] + ["--%s=%s" % kv for kv in flags.items()]


def _check_one_error_line(result, expected):
  assert result.returncode == 2, result.stderr[-3000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1, result.stderr[-3000:]
  assert expected in errors[0], errors[0]
  return errors[0]


@pytest.mark.parametrize("runner", ["ner", "re", "qa"])
def test_bad_inputs_then_the_corrected_command(world, runner):
  out = world["base"] / ("out_" + runner)
  for case_id, case_runner, overrides, expected in CASES:
    if case_runner != runner:
      continue
    result = run_tool(_command(world, runner, out, overrides(world)),
                      expect_ok=False)
    if callable(expected):  # it names paths of the world
      expected = expected(world)
    elif "%s" in expected:  # the path the case gives its one flag
      expected = expected % list(overrides(world).values())[0]
    _check_one_error_line(result, expected)
    assert not out.exists(), "%s wrote into --output_dir" % case_id
  # The corrected command succeeds in the same --output_dir.
  run_tool(_command(world, runner, out, {}))
  assert (out / "run_manifest.json").is_file()


def test_output_dir_that_is_a_file(world):
  f = _bad(world, "out_file", "keep me")
  result = run_tool(_command(world, "re", f, {}), expect_ok=False)
  _check_one_error_line(result, "--output_dir=%s: expected a directory" % f)
  assert open(f).read() == "keep me"


TOOL_CASES = [
    ("detok-dir", lambda w: ["biocodes/ner_detokenize.py",
                             "--token_test_path=" + str(w["base"]),
                             "--label_test_path=" + str(w["base"]),
                             "--answer_path=" + w["ner"] + "/test.tsv",
                             "--output_dir=" + str(w["base"] / "tool_out")],
     "is a directory"),
    ("re-eval-text", lambda w: ["biocodes/re_eval.py", "--output_path=" +
                                _bad(w, "p.tsv", "0.2\tabc\n"),
                                "--answer_path=" + w["gad"] + "/test.tsv"],
     "p.tsv:1: expected tab-separated probabilities"),
    ("transform-string-p", lambda w: [
        "biocodes/transform_nbset2bioasqform.py", "--nbest_path=" + _bad(
            w, "nb.json", json.dumps({"%024d_001" % 1: [
                {"text": "a", "probability": "0.5"}]})),
        "--output_path=" + str(w["base"] / "tool_out")],
     "expected a list of {\"text\": string, \"probability\": number"),
    ("transform-numeric-text", lambda w: [
        "biocodes/transform_nbset2bioasqform.py", "--nbest_path=" + _bad(
            w, "nb2.json", json.dumps({"%024d_001" % 1: [
                {"text": 5, "probability": 0.5}]})),
        "--output_path=" + str(w["base"] / "tool_out")],
     "expected a list of {\"text\": string"),
    ("transform-nan", lambda w: [
        "biocodes/transform_nbset2bioasqform.py", "--nbest_path=" + _bad(
            w, "nb3.json", '{"%024d_001": [\n {"text": "a", "probability": '
            '0.5},\n {"text": "b", "probability": NaN}]}' % 1),
        "--output_path=" + str(w["base"] / "tool_out")],
     "nb3.json:3: NaN is not a finite number"),
    ("transform-duplicate-id", lambda w: [
        "biocodes/transform_nbset2bioasqform.py", "--nbest_path=" + _bad(
            w, "nb4.json", '{"%024d_001": [{"text": "a", "probability": 1}],'
            '\n"%024d_001": [{"text": "b", "probability": 1}]}' % (1, 1)),
        "--output_path=" + str(w["base"] / "tool_out")],
     "nb4.json:2: key \"000000000000000000000001_001\" appears twice"),
    ("re-eval-nan", lambda w: ["biocodes/re_eval.py", "--output_path=" +
                               _bad(w, "p2.tsv", "0.2\t0.8\nnan\t0.5\n"),
                               "--answer_path=" + w["gad"] + "/test.tsv"],
     "p2.tsv:2: probability nan is not a finite number"),
    ("bioasq-duplicate-id", lambda w: [
        "biocodes/bioasq_eval.py", w["qa"]["golden.json"], _bad(
            w, "sys_dup.json", json.dumps({"questions": [
                {"id": "q1", "type": "factoid", "exact_answer": [["a"]]},
                {"id": "q1", "type": "factoid", "exact_answer": [["b"]]}]},
                indent=1))],
     "sys_dup.json:13: questions[1]: id q1 is already questions[0]"),
    ("detok-truncated", lambda w: [
        "biocodes/ner_detokenize.py",
        "--token_test_path=" + _bad(w, "tok.txt", "[CLS]\nbrca\n##1\n"),
        "--label_test_path=" + _bad(w, "lab.txt", "[CLS]\nB\nX\n"),
        "--answer_path=" + w["ner"] + "/test.tsv",
        "--output_dir=" + str(w["base"] / "tool_out")],
     "tok.txt:3: the last window has no closing [SEP]: the file is "
     "truncated"),
    ("bioasq-golden-list-id", lambda w: [
        "biocodes/bioasq_eval.py", _bad(w, "g2.json", json.dumps(
            {"questions": [{"id": ["x"], "type": "factoid"}]})),
        w["qa"]["golden.json"]], "questions[0]: expected an object"),
]


@pytest.mark.parametrize("case_id,args,expected", TOOL_CASES,
                         ids=[c[0] for c in TOOL_CASES])
def test_scoring_tools_bad_input(world, case_id, args, expected):
  result = run_tool(args(world), expect_ok=False)
  _check_one_error_line(result, expected)
  assert not (world["base"] / "tool_out").exists()
