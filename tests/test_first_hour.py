"""A newcomer's first hour: traps that used to pass silently, tracebacks,
half-replaced exports and a console full of TensorFlow's internals.

Each case has an exact expectation: the `warning:` or `error:` line, the
exit code, and what is (not) written.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import convert_hf_checkpoint as convert
import export_model
from biocodes import transform_nbset2bioasqform as transform
from finetuning import errors
from finetuning import estimator as est
from finetuning import model_files
from tests.conftest import DATA, ROOT
from tests.helpers import bert_flags, run_tool, slice_sentences, write_file
from tests.test_convert_hf import _write_hf_fixture

NCBI = os.path.join(DATA, "NER", "NCBI-disease")


def _errors(result):
  return [l for l in result.stderr.splitlines() if l.startswith("error:")]


def _warnings(result):
  return [l for l in result.stderr.splitlines() if l.startswith("warning:")]


@pytest.fixture(scope="module")
def ner_data(tmp_path_factory):
  data = tmp_path_factory.mktemp("first_hour") / "ncbi"
  data.mkdir()
  slice_sentences(os.path.join(NCBI, "train_dev.tsv"),
                  str(data / "train_dev.tsv"), 40)
  slice_sentences(os.path.join(NCBI, "devel.tsv"), str(data / "devel.tsv"),
                  10)
  slice_sentences(os.path.join(NCBI, "test.tsv"), str(data / "test.tsv"), 10)
  return data


def _ner(tiny_bert_dir, data, out, *extra):
  return ["run_ner.py", "--data_dir=%s" % data, "--output_dir=%s" % out,
          "--max_seq_length=32", "--train_batch_size=8", "--seed=1",
          "--num_train_epochs=1"] + bert_flags(tiny_bert_dir) + list(extra)


@pytest.fixture(scope="module")
def kept_best(tiny_bert_dir, ner_data, tmp_path_factory):
  """A NER run that kept best/ (dev F1 after each of 2 epochs)."""
  out = tmp_path_factory.mktemp("kept") / "out"
  run_tool(_ner(tiny_bert_dir, ner_data, out, "--num_train_epochs=2",
                "--eval_every_epoch=true", "--keep_best=true",
                "--learning_rate=1e-3", "--do_predict=false"))
  return out


# Class 6: silent traps.

def test_a_later_run_without_keep_best_still_uses_best(tiny_bert_dir,
                                                       ner_data, kept_best):
  best = json.loads((kept_best / "best" / "best.json").read_text())["step"]
  result = run_tool(_ner(tiny_bert_dir, ner_data, kept_best,
                         "--do_train=false", "--do_predict=true"))
  assert ("Using the best checkpoint on dev: %s/best/model.ckpt-%d" %
          (kept_best, best)) in result.stdout
  scores = json.loads((kept_best / "ner_scores.json").read_text())
  # The scores name the latest step; the predictions are best/'s.
  assert scores["token_level"]["global_step"] == est.checkpoint_step(
      str(kept_best))
  # export_model.py picks the same checkpoint.
  assert export_model.model_checkpoint(str(kept_best)).endswith(
      "best/model.ckpt-%d" % best)


def test_raw_text_takes_casing_and_length_from_the_trained_run(
    tiny_bert_dir, ner_data, tmp_path):
  out = tmp_path / "lower"
  run_tool(_ner(tiny_bert_dir, ner_data, out, "--do_lower_case=true",
                "--do_predict=false"))
  raw = write_file(tmp_path / "raw.txt", "BRCA1 mutations cause cancer .\n")
  # run_ner.py's defaults are --do_lower_case=false --max_seq_length=128.
  result = run_tool(["run_ner.py", "--do_train=false", "--do_predict=false",
                     "--raw_text_file=" + raw, "--output_dir=%s" % out,
                     "--entity_type=disease"] + bert_flags(tiny_bert_dir))
  assert ("Using the trained run's --do_lower_case=true, "
          "--max_seq_length=32 (run_manifest.json)") in result.stdout
  lines = [json.loads(l) for l in
           (out / "raw_text_predictions.jsonl").read_text().splitlines()]
  assert [l["text"] for l in lines] == ["BRCA1 mutations cause cancer ."]
  assert all(e["type"] == "disease" for l in lines for e in l["entities"])
  # Named on the command line, a different value is still refused.
  refused = run_tool(["run_ner.py", "--do_train=false", "--do_predict=false",
                      "--raw_text_file=" + raw, "--output_dir=%s" % out,
                      "--do_lower_case=false"] + bert_flags(tiny_bert_dir),
                     expect_ok=False)
  assert refused.returncode == 2
  assert "do_lower_case: recorded True, now False" in refused.stderr


def test_untyped_entities_get_the_named_type():
  from tasks import ner
  words = ner.split_words_with_offsets("BRCA1 and breast cancer")
  tags = ["B", "O", "B", "I"]
  line = "BRCA1 and breast cancer"
  assert ner.entities(line, words, tags, "DISEASE") == [
      {"start": 0, "end": 5, "text": "BRCA1", "type": "DISEASE"},
      {"start": 10, "end": 23, "text": "breast cancer", "type": "DISEASE"}]
  assert ner.entities(line, words, ["B-Gene", "O", "O", "O"],
                          "DISEASE")[0]["type"] == "Gene"
  assert ner.entities(line, words, tags)[0]["type"] is None


def test_model_that_finds_no_entity_is_told(tiny_bert_dir, tmp_path):
  # The demo's settings on the tiny model: every word ends up O.
  data = os.path.join(ROOT, "demo", "data", "NCBI-disease")
  result = run_tool(_ner(tiny_bert_dir, data, tmp_path / "o",
                         "--learning_rate=1e-4", "--train_batch_size=16",
                         "--max_seq_length=128", "--do_predict=true"))
  gold = json.loads((tmp_path / "o" / "ner_scores.json").read_text())[
      "entity_level"]
  assert gold["found"] == 0 and gold["gold"] == 185
  assert _warnings(result) == [
      "warning: the model found no entity in %s/test.tsv (185 in the "
      "answers): it tags every word O. Train longer, or raise "
      "--learning_rate" % data]


def test_relation_model_that_predicts_one_class_is_told():
  from tasks import relations
  one = [[0.3, 0.7], [0.1, 0.9], [0.45, 0.55]]
  assert relations.one_class_warning(one, ["0", "1"]) == (
      "the model predicts '1' for all 3 test rows: it has learned one class "
      "only. Train longer, or change --learning_rate")
  assert relations.one_class_warning(one + [[0.8, 0.2]], ["0", "1"]) is None
  assert relations.one_class_warning(one[:1], ["0", "1"]) is None


def test_progress_bar_on_a_terminal(capsys):
  import tensorflow.compat.v1 as tf
  from finetuning import progress
  hook = progress.ProgressHook(total_steps=4, batch_size=2, bar=True)
  with tf.Graph().as_default():
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      hook.after_create_session(sess, None)
      for _ in range(4):
        hook.after_run(None, None)
      hook.end(sess)
  out, err = capsys.readouterr()
  assert "training: 100%" in err and "4/4" in err and "examples/s" in err
  assert out.startswith("Trained 4 steps (8 examples) in ")
  assert "step " not in out  # the bar replaces the lines


def test_casing_of_vocabulary_and_flag_must_agree(tmp_path, capsys):
  # all-MiniLM-L6-v2's uncased vocabulary holds "ℝ", upper case without a
  # lower case.
  uncased = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "brca", "##1", "ℝ", "##ℝ"]
  assert model_files.casing_warning(uncased, True) is None
  assert model_files.casing_warning(uncased, False) == (
      "--do_lower_case=false, but the vocabulary has no upper-case piece (an "
      "uncased model): capitalised words become [UNK]. Add "
      "--do_lower_case=true")
  cased = uncased + ["BRCA"]
  assert model_files.casing_warning(cased, False) is None
  assert model_files.casing_warning(cased, True).startswith(
      "--do_lower_case=true, but the vocabulary has upper-case pieces")
  vocab = write_file(tmp_path / "vocab.txt", "\n".join(uncased) + "\n")
  model_files.load_tokenizer(vocab, False, None)
  assert capsys.readouterr().err == (
      "warning: " + model_files.casing_warning(uncased, False) + "\n")


def test_vocabulary_with_trailing_blank_lines(tmp_path):
  pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"]
  vocab = write_file(tmp_path / "v.txt", "\n".join(pieces) + "\n\n\n")
  assert model_files.check_vocab(vocab, vocab_size=5) == pieces


def test_hf_checkpoint_without_pooler_converts(tiny_bert_dir, tmp_path,
                                               capsys):
  import tensorflow.compat.v1 as tf
  hf = _write_hf_fixture(tiny_bert_dir, str(tmp_path / "hf"),
                         drop=["bert.pooler.dense.weight",
                               "bert.pooler.dense.bias"])
  prefix = convert.convert(hf, str(tmp_path / "tf"))
  assert capsys.readouterr().out == (
      "note: the weights have no pooler (a token-classification or "
      "question-answering model): it is initialised as BERT initialises it "
      "(truncated normal, stddev 0.02; bias 0)\n")
  reader = tf.train.load_checkpoint(prefix)
  kernel = reader.get_tensor("bert/pooler/dense/kernel")
  assert kernel.shape == (32, 32) and np.abs(kernel).max() <= 0.04
  assert 0.01 < kernel.std() < 0.02  # a normal cut at two stddevs: 0.88
  assert not reader.get_tensor("bert/pooler/dense/bias").any()
  again = convert.convert(hf, str(tmp_path / "tf2"))  # repeatable
  np.testing.assert_array_equal(
      tf.train.load_checkpoint(again).get_tensor("bert/pooler/dense/kernel"),
      kernel)


# Class 3: silently wrong.

def test_placeholder_of_a_blank_snippet_does_not_win():
  real = [{"text": "BRCA1", "probability": 0.6, "start_logit": 2.0,
           "end_logit": 1.0},
          {"text": "BRCA2", "probability": 0.4, "start_logit": 1.5,
           "end_logit": 1.0}]
  blank = [{"text": "empty", "probability": 1.0, "start_logit": 0.0,
            "end_logit": 0.0}]
  qid = "%024d" % 7
  answers, with_prob = transform.transform({qid + "_001": real,
                                            qid + "_002": blank})
  assert answers["questions"][0]["exact_answer"] == [["BRCA1"], ["BRCA2"]]
  assert with_prob["questions"][0]["exact_answer"] == [["BRCA1", 0.6],
                                                       ["BRCA2", 0.4]]
  # List questions: the blank snippet does not dilute the shares either.
  answers, _ = transform.transform({qid + "_001": real, qid + "_002": blank},
                                   "list", list_threshold=0.5)
  assert answers["questions"][0]["exact_answer"] == [["BRCA1"]]


def test_emptied_manifest_is_refused_not_ignored(tiny_bert_dir, ner_data,
                                                 tmp_path):
  out = tmp_path / "o"
  out.mkdir()
  (out / "run_manifest.json").write_text("{}")
  result = run_tool(_ner(tiny_bert_dir, ner_data, out), expect_ok=False)
  assert result.returncode == 2
  assert _errors(result) == [
      "error: %s/run_manifest.json: task, labels, bert_config, "
      "max_seq_length, do_lower_case is missing: this record cannot tell "
      "whether the checkpoints beside it belong to this run. Use a new "
      "--output_dir, or delete %s (rm -r) to start over" % (out, out)]
  assert sorted(os.listdir(str(out))) == ["run_manifest.json"]


# Class 4: tracebacks.

def test_damaged_checkpoint_in_the_output_dir(tiny_bert_dir, ner_data,
                                              tmp_path):
  out = tmp_path / "o"
  run_tool(_ner(tiny_bert_dir, ner_data, out, "--do_predict=false"))
  step = est.checkpoint_step(str(out))
  with open(str(out / ("model.ckpt-%d.data-00000-of-00001" % step)),
            "r+b") as f:
    f.truncate(100)
  before = sorted(os.listdir(str(out)))
  expected = ("error: --output_dir=%s: checkpoint model.ckpt-%d is damaged; "
              "use a new --output_dir, or delete %s (rm -r) to start over: "
              % (out, step, out))
  for args in (_ner(tiny_bert_dir, ner_data, out, "--do_train=false"),
               _ner(tiny_bert_dir, ner_data, out, "--do_predict=false"),
               ["export_model.py", "--output_dir=%s" % out,
                "--vocab_file=" + tiny_bert_dir["vocab"],
                "--export_dir=%s" % (tmp_path / "export")]):
    result = run_tool(args, expect_ok=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(_errors(result)) == 1 and _errors(result)[0].startswith(
        expected), result.stderr[-2000:]
    assert sorted(os.listdir(str(out))) == before
  assert not (tmp_path / "export").exists()


def test_export_of_a_missing_checkpoint(tiny_bert_dir, kept_best, tmp_path):
  missing = str(tmp_path / "nope" / "model.ckpt-3")
  result = run_tool(["export_model.py", "--output_dir=%s" % kept_best,
                     "--vocab_file=" + tiny_bert_dir["vocab"],
                     "--export_dir=%s" % (tmp_path / "x"),
                     "--checkpoint=" + missing], expect_ok=False)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert _errors(result)[0].startswith(
      "error: --checkpoint=%s: no readable checkpoint there (expected the "
      "prefix of model.ckpt-NNN.index / .data-* files): " % missing)
  assert not (tmp_path / "x").exists()


def test_disk_full_during_export_keeps_the_earlier_export(
    tiny_bert_dir, kept_best, tmp_path, monkeypatch, capsys):
  import errno
  export = tmp_path / "export"
  args = ["--output_dir=%s" % kept_best, "--format=huggingface",
          "--vocab_file=" + tiny_bert_dir["vocab"],
          "--export_dir=%s" % export]
  assert export_model.main(args) == 0
  weights = export / "huggingface" / "model.safetensors"
  first = weights.read_bytes()

  def full(*unused):
    raise OSError(errno.ENOSPC, "No space left on device", str(weights))

  monkeypatch.setattr(export_model.shutil, "copyfile", full)
  capsys.readouterr()
  with pytest.raises(SystemExit) as e:
    errors.run_main(export_model.main, "export again")(args)
  assert e.value.code == 1
  assert capsys.readouterr().err == (
      "error: no space left on device (writing %s): free some space, then "
      "export again\n" % weights)
  assert weights.read_bytes() == first
  assert sorted(os.listdir(str(export))) == ["huggingface"]


def test_export_killed_while_replacing_keeps_the_earlier_one(
    tiny_bert_dir, kept_best, tmp_path):
  export = tmp_path / "export"
  args = ["export_model.py", "--output_dir=%s" % kept_best,
          "--format=saved_model", "--vocab_file=" + tiny_bert_dir["vocab"],
          "--export_dir=%s" % export]
  run_tool(args)
  model = export / "saved_model" / "saved_model.pb"
  first = model.read_bytes()
  building = export / ".saved_model.new" / "variables"
  proc = subprocess.Popen([sys.executable] + args[:], cwd=ROOT,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 120
  while not building.exists() and proc.poll() is None:
    assert time.time() < deadline
    time.sleep(0.002)
  proc.send_signal(signal.SIGKILL)
  assert proc.wait() == -signal.SIGKILL, "finished before it was killed"
  assert model.read_bytes() == first  # the earlier export, whole
  assert (export / "saved_model" / "variables").is_dir()
  run_tool(args)  # the next export clears the half-built one
  assert sorted(os.listdir(str(export))) == ["saved_model"]


def test_exported_weights_follow_the_umask(tiny_bert_dir, kept_best,
                                           tmp_path):
  export = tmp_path / "export"
  old = os.umask(0o027)
  try:
    assert export_model.main([
        "--output_dir=%s" % kept_best, "--format=huggingface",
        "--vocab_file=" + tiny_bert_dir["vocab"],
        "--export_dir=%s" % export]) == 0
  finally:
    os.umask(old)
  for name in ("model.safetensors", "config.json", "vocab.txt"):
    mode = stat.S_IMODE(os.stat(str(export / "huggingface" / name)).st_mode)
    assert mode == 0o640, (name, oct(mode))


CTRL_C = """
import os, sys, time
sys.path.insert(0, %r)
from finetuning import errors, feature_cache

def slow(chunk):
  open(os.path.join(%r, "started.%%d" %% os.getpid()), "w").close()
  time.sleep(60)
  return chunk

def main(argv):
  feature_cache.parallel_chunks(slow, list(range(2000)), processes=2)

sys.exit(errors.run_main(main)([]))
"""


def test_ctrl_c_while_tokenizing_in_workers_prints_one_line(tmp_path):
  script = write_file(tmp_path / "ctrl_c.py", CTRL_C % (ROOT, str(tmp_path)))
  # SIGINT as on a terminal, even when the tests run as a background job
  # (whose children start with SIGINT ignored).
  proc = subprocess.Popen(
      [sys.executable, script], stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, start_new_session=True,
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  deadline = time.time() + 60
  while len([f for f in os.listdir(str(tmp_path))
             if f.startswith("started.")]) < 2:
    assert time.time() < deadline and proc.poll() is None
    time.sleep(0.02)
  os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
  _, stderr = proc.communicate(timeout=60)
  assert proc.returncode == 130
  assert stderr == ("interrupted: stopped by Ctrl-C; run the same command "
                    "again: training resumes from the last checkpoint\n")


# Class 7: the console.

def test_help_lists_the_runners_flags_and_exits_0():
  for runner, own in (("run_ner.py", "--entity_type"),
                      ("run_re.py", None), ("run_qa.py", "--doc_stride")):
    result = run_tool([runner, "--help"])
    assert result.returncode == 0
    text = result.stdout
    assert "Flags common to run_ner.py, run_re.py and run_qa.py:" in text
    assert "--output_dir: Where checkpoints" in text
    if own:
      assert "Flags of %s:" % runner in text and own in text
    for noise in ("tt_check_filter", "test_srcdir", "run_with_pdb"):
      assert noise not in text
    assert result.stderr == ""


def test_a_short_run_shows_progress_and_keeps_the_log(tiny_bert_dir,
                                                      ner_data, tmp_path):
  out = tmp_path / "o"
  result = run_tool(_ner(tiny_bert_dir, ner_data, out, "--train_batch_size=1",
                         "--do_predict=true"))
  lines = result.stdout.splitlines()
  steps = [l.split(",")[0] for l in lines if l.startswith("step ")]
  total = int(steps[-1].split("/")[1].split()[0])
  every = -(-total // 20)  # a line about every 5 % of the steps
  assert steps == ["step %d/%d (%.1f%%)" % (k, total, 100.0 * k / total)
                   for k in list(range(every, total, every)) + [total]]
  assert "INFO" not in result.stderr and "name = bert/" not in result.stderr
  assert all(l.startswith("warning: ") for l in result.stderr.splitlines())
  log = (out / "run.log").read_text()
  assert "name = bert/embeddings/word_embeddings" in log  # TensorFlow's
  assert steps[-1] in log  # and ours


@pytest.mark.parametrize("runner", ["run_ner.py", "run_re.py", "run_qa.py"])
def test_a_mistyped_flag_is_one_error_line_exit_2(runner, tmp_path):
  result = run_tool([runner, "--output_dirr=%s" % tmp_path],
                    expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == (
      "error: Unknown command line flag 'output_dirr'. Did you mean: "
      "output_dir ? (%s --help lists the flags)\n" % runner)
  result = run_tool([runner, "--max_seq_length=12x"], expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == (
      "error: flag --max_seq_length=12x: invalid literal for int() with base "
      "10: '12x' (%s --help lists the flags)\n" % runner)
