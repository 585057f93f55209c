"""run_suite.py: a suite on a local Dask cluster of two workers, its report,
the second invocation, a worker killed mid-suite, Ctrl-C, bad suite files."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from finetuning import errors
from suite_runner import spec
from tests.conftest import SHARED
from tests.helpers import ROOT, run_tool, write_file

SUITE = """\
seeds = [1, 2]

[flags]
max_seq_length = 32
train_batch_size = 2
learning_rate = 1e-3
num_train_epochs = 3.0
save_checkpoints_steps = 10
do_lower_case = false

[ner.NCBI-disease]
max_steps = 30
[ner.s800]
max_steps = 30

[re.GAD]
folds = [1, 2]
seeds = [1]
max_steps = 30
do_lower_case = true
"""

REPORTS = ("report.json", "report.csv", "report.md")


def _head(src, dst, n_sentences=None, n_lines=None):
  """The first sentences (blank-line separated) or lines of `src`."""
  with open(src, encoding="utf-8") as f:
    text = f.read()
  if n_sentences:
    text = "\n\n".join(text.split("\n\n")[:n_sentences]) + "\n\n"
  else:
    text = "".join(text.splitlines(True)[:n_lines])
  os.makedirs(os.path.dirname(dst), exist_ok=True)
  write_file(dst, text)


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_bert_dir):
  """A data dir in download.sh's layout (slices of ../shared/data), the
  suite file and the model dir."""
  root = tmp_path_factory.mktemp("suite")
  data = root / "data"
  for name in ("NCBI-disease", "s800"):
    for split, n in (("train_dev.tsv", 40), ("test.tsv", 20)):
      _head(os.path.join(SHARED, "data", "NER", name, split),
            str(data / "NER" / name / split), n_sentences=n)
  for fold in ("1", "2"):
    _head(os.path.join(SHARED, "data", "RE", "GAD", fold, "train.tsv"),
          str(data / "RE" / "GAD" / fold / "train.tsv"), n_lines=60)
    _head(os.path.join(SHARED, "data", "RE", "GAD", fold, "test.tsv"),
          str(data / "RE" / "GAD" / fold / "test.tsv"), n_lines=21)
  suite = write_file(root / "suite.toml", SUITE)
  return {"root": root, "data": str(data), "suite": suite,
          "bert": tiny_bert_dir["dir"]}


def _args(world, out, *extra):
  return ["run_suite.py", "--suite=" + world["suite"],
          "--bert_dir=" + world["bert"], "--data_dir=" + world["data"],
          "--output_dir=" + str(out), "--workers=2"] + list(extra)


def _reports(out):
  return {name: (out / name).read_bytes() for name in REPORTS}


@pytest.fixture(scope="module")
def finished(world):
  out = world["root"] / "whole"
  result = run_tool(_args(world, out), timeout=900)
  return out, result


def test_suite_runs_every_job_and_reports_its_scores(finished):
  out, result = finished
  assert "Running 6 of 6 jobs on a local cluster (2 workers)" in result.stdout
  for path in ("ner/NCBI-disease/all/seed1", "ner/NCBI-disease/all/seed2",
               "ner/s800/all/seed1", "ner/s800/all/seed2", "re/GAD/1/seed1",
               "re/GAD/2/seed1"):
    assert ("] %s  " % path) in result.stdout  # its one-line summary
    assert (out / path / "suite_job.json").exists()
    assert (out / path / "run_manifest.json").exists()
  report = json.loads((out / "report.json").read_text())
  by_name = {d["dataset"]: d for d in report["datasets"]}
  assert list(by_name) == ["NCBI-disease", "s800", "GAD"]
  # The report's numbers are those of each run's own score file.
  expected = {}
  for name, task, pattern, key, scale in (
      ("NCBI-disease", "ner", "ner/NCBI-disease/all/seed%d", None, 1),
      ("s800", "ner", "ner/s800/all/seed%d", None, 1)):
    expected[name] = [json.loads((out / (pattern % s) / "ner_scores.json")
                                 .read_text())["entity_level"]["f1"]
                      for s in (1, 2)]
  expected["GAD"] = [100 * json.loads(
      (out / "re/GAD" / f / "seed1" / "re_scores.json").read_text())[
          "f1 score"] for f in ("1", "2")]
  for name, values in expected.items():
    stats = by_name[name]["metrics"][0]
    assert stats["n"] == 2 and by_name[name]["missing"] == 0
    assert stats["min"] == min(values) and stats["max"] == max(values)
    assert stats["best"]["value"] == max(values)
    # The same sum in the same order; approx only for the last bit.
    assert stats["mean"] == pytest.approx(sum(values) / 2, abs=1e-12)
    run_values = [r["scores"][stats["metric"]]
                  for r in by_name[name]["runs"]]
    assert sorted(run_values) == sorted(values)
  assert [p["value"] for p in by_name["NCBI-disease"]["metrics"][0][
      "published"]] == [89.71, 88.30]
  ner_mean = (by_name["NCBI-disease"]["metrics"][0]["mean"] +
              by_name["s800"]["metrics"][0]["mean"]) / 2
  macro = report["macro_average"]
  assert macro["per_task"]["ner"] == pytest.approx(ner_mean, abs=1e-12)
  assert macro["value"] == pytest.approx(
      (ner_mean + by_name["GAD"]["metrics"][0]["mean"]) / 2, abs=1e-12)
  csv_lines = (out / "report.csv").read_text().splitlines()
  assert csv_lines[0].startswith("task,dataset,metric,n,missing,mean,sd")
  assert len(csv_lines) == 4
  assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert "| NER | NCBI-disease | entity F1 | 2 |" in (out / "report.md"
                                                     ).read_text()


def test_second_invocation_runs_nothing_and_says_so(world, finished):
  out, _ = finished
  before = _reports(out)
  again = run_tool(_args(world, out), timeout=300)
  assert "Nothing to run: all 6 jobs are finished in %s." % out in again.stdout
  assert "Running" not in again.stdout
  assert _reports(out) == before


def _runner_pids(out):
  """{pid: parent pid} of the runner processes writing into `out`."""
  found = {}
  for pid in os.listdir("/proc"):
    if not pid.isdigit():
      continue
    try:
      with open("/proc/%s/cmdline" % pid, "rb") as f:
        cmdline = f.read().decode("utf-8", "replace")
      with open("/proc/%s/stat" % pid) as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
      continue
    if "--output_dir=%s/" % out in cmdline and "run_suite" not in cmdline:
      found[int(pid)] = ppid
  return found


def test_killed_worker_gives_the_same_report(world, finished):
  whole, _ = finished
  out = world["root"] / "killed"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  suite = subprocess.Popen([sys.executable] + _args(world, out), cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env)
  killed = None
  deadline = time.time() + 300
  while killed is None and time.time() < deadline and suite.poll() is None:
    # Mid-training: a checkpoint the checkpoint list names (an index file
    # can be on disk before it does), not the last one.
    for state in glob.glob(str(out / "*" / "*" / "*" / "*" / "checkpoint")):
      run_dir = os.path.dirname(state)
      try:
        with open(state) as f:
          named = re.search(r'model_checkpoint_path: "model.ckpt-(\d+)"',
                            f.read())
      except OSError:
        continue
      if (named and named.group(1) in ("10", "20") and not os.path.exists(
          os.path.join(run_dir, "model.ckpt-30.index"))):
        for pid, worker in _runner_pids(out).items():
          with open("/proc/%d/cmdline" % pid, "rb") as f:
            if "--output_dir=%s\0" % run_dir in f.read().decode():
              os.kill(worker, signal.SIGKILL)  # the Dask worker of the job
              killed = run_dir
        if killed:
          break
    time.sleep(0.005)
  output, _ = suite.communicate(timeout=900)
  assert killed, "no job was caught mid-training:\n" + output
  assert suite.returncode == 0, output
  # The job was run again elsewhere and resumed from its checkpoint.
  with open(os.path.join(killed, "suite_job.log")) as f:
    assert re.search(r"Resuming training at step (10|20) of 30\n", f.read())
  assert _reports(out) == _reports(whole)


def test_ctrl_c_prints_one_line_and_the_rerun_finishes(world, finished):
  whole, _ = finished
  out = world["root"] / "ctrl_c"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  # SIGINT to the whole process group, as a terminal sends it; the child
  # starts with it handled even when the tests run as a background job.
  suite = subprocess.Popen(
      [sys.executable] + _args(world, out), cwd=ROOT, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  deadline = time.time() + 300
  # Once a job is training (how it resumes is the test above).
  while not glob.glob(str(out / "*" / "*" / "*" / "*" / "model.ckpt-*")):
    assert time.time() < deadline and suite.poll() is None
    time.sleep(0.02)
  os.killpg(suite.pid, signal.SIGINT)
  _, stderr = suite.communicate(timeout=300)
  assert suite.returncode == 130
  assert stderr == ("interrupted: stopped by Ctrl-C; run the same command "
                    "again: finished jobs are kept and the others resume "
                    "from their last checkpoint\n")
  deadline = time.time() + 60  # the runners die with their workers
  while _runner_pids(out):
    assert time.time() < deadline, _runner_pids(out)
    time.sleep(0.1)
  run_tool(_args(world, out), timeout=900)
  assert _reports(out) == _reports(whole)


@pytest.mark.parametrize("text,messages", [
    ("seeds = [1]\n[ner.NCBI-disease]\nlearning_rat = 1e-4\n",
     ["suite.toml:3: unknown key 'learning_rat'"]),
    ("[ner.NCBI-diseases]\n", ["suite.toml:1: unknown data set "
                               "'NCBI-diseases'"]),
    ("seeds = [1]\n\n[ranking.NCBI-disease]\n",
     ["suite.toml:3: unknown key or task 'ranking'"]),
    ("[re.GAD]\nmetrics = [\"f2\"]\n",
     ["suite.toml:2: metrics ['f2']: expected a list of f1, micro_f1"]),
    ("[re.NCBI-disease]\n", ["suite.toml:1: data set NCBI-disease is a ner "
                             "data set, not re"]),
    ("[re.GAD]\nfolds = [0, 11]\n",
     ["suite.toml:2: folds: expected a list of different folds between 1 "
      "and 10"]),
    ("[re.GAD]\nfolds = [1, 1]\n",
     ["suite.toml:2: folds: expected a list of different folds"]),
    ("seeds = [1, 1]\n[ner.s800]\n",
     ["suite.toml:1: seeds: expected a list of different whole numbers >= 0"]),
    ("[ner.s800]\nseeds = [-1]\n",
     ["suite.toml:2: seeds: expected a list of different whole numbers >= 0"]),
    ("[flags]\nlearning_rate = \"fast\"\n[ner]\nnum_train_epochs = true\n"
     "[ner.s800]\nmax_seq_length = 1.5\ndo_lower_case = 1\n",
     ["suite.toml:2: learning_rate = 'fast': expected a finite number",
      "suite.toml:4: num_train_epochs = True: expected a finite number",
      "suite.toml:6: max_seq_length = 1.5: expected a whole number",
      "suite.toml:7: do_lower_case = 1: expected true or false"]),
    ("[ner.s800]\ndistribution_strategy = \"all\"\n",
     ["suite.toml:2: distribution_strategy = 'all': expected one of none, "
      "one_device"]),
    ("[ner.s800]\ndo_predict = false\n",
     ["suite.toml:2: do_predict: set by run_suite.py itself"]),
    ("[ner.s800]\noutput_dir = \"x\"\n",
     ["suite.toml:2: output_dir: set by run_suite.py itself"]),
    ("protocol = \"best\"\n[ner.s800]\nmax_steps = 0\n",
     ["suite.toml:1: protocol 'best': expected one of fixed, paper",
      "suite.toml:3: max_steps: expected a whole number >= 1"]),
    ("seeds = [1\n", ["suite.toml:1: not valid TOML"]),
])
def test_bad_suite_files_are_refused_with_file_and_line(world, tmp_path,
                                                        text, messages):
  path = write_file(tmp_path / "suite.toml", text)
  with pytest.raises(errors.UserError) as e:
    spec.read(path, world["data"])
  for message in messages:
    assert (str(tmp_path) + "/" + message) in str(e.value)


def test_a_suite_file_with_a_byte_order_mark_is_read(world, tmp_path):
  path = tmp_path / "bom.toml"
  path.write_bytes(b"\xef\xbb\xbf" + SUITE.encode("utf-8"))
  assert spec.read(str(path), world["data"]) == spec.read(world["suite"],
                                                          world["data"])


def test_bad_suite_file_stops_before_anything_is_written(world, tmp_path):
  path = write_file(tmp_path / "bad.toml", "[ner.s800]\nlearning_rat = 1\n")
  out = tmp_path / "out"
  result = run_tool(["run_suite.py", "--suite=" + path,
                     "--bert_dir=" + world["bert"],
                     "--data_dir=" + world["data"],
                     "--output_dir=" + str(out)], expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == ("error: %s:2: unknown key 'learning_rat': "
                           "expected a flag of the runner or one of seeds, "
                           "folds, metrics, max_steps\n" % path)
  assert not out.exists()


def test_missing_data_set_is_reported_and_skipped(world):
  suite = spec.read(os.path.join(ROOT, "suites", "biobert.toml"),
                    world["data"])
  skipped = dict(suite.skipped)
  assert skipped["BC4CHEMD"] == "%s/NER/BC4CHEMD/train_dev.tsv not found" % (
      world["data"])
  # GAD's folds 3-10 are not in this data dir: the data set is skipped
  # whole rather than run on some folds.
  assert skipped["GAD"] == "%s/RE/GAD/3/train.tsv not found" % world["data"]
  assert sorted({j.dataset for j in suite.jobs}) == ["NCBI-disease", "s800"]


def test_max_steps_is_the_runners_step_cap(world):
  suite = spec.read(world["suite"], world["data"])
  job = next(j for j in suite.jobs if j.dataset == "NCBI-disease")
  assert job.flags["max_train_steps"] == 30  # the runner's own cap
  assert job.flags["num_train_epochs"] == 3.0
  assert job.path == os.path.join("ner", "NCBI-disease", "all", "seed1")
  assert job.flags["data_dir"] == os.path.join(world["data"], "NER",
                                               "NCBI-disease")


def test_plot_marks_each_published_source_once(tmp_path):
  from suite_runner import report as report_lib
  published = [{"system": "BioBERT v1.1", "value": 89.71, "source": "a"},
               {"system": "biobert-pytorch", "value": 88.30, "source": "b"}]
  report = {"datasets": [
      {"task": "ner", "dataset": name, "missing": 0,
       "metrics": [{"metric": "entity_f1", "published": published[k:]}],
       "runs": [{"fold": "all", "seed": 1, "scores": {"entity_f1": 70.0}}]}
      for k, name in enumerate(("NCBI-disease", "s800"))]}
  path = str(tmp_path / "report.png")
  assert report_lib.plot(report, path) == [
      "this suite's runs", "published: BioBERT v1.1",
      "published: biobert-pytorch"]
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_runner_pointed_at_a_suite_run_changes_nothing(world, finished):
  """run_ner.py with another data set's --data_dir, by mistake, in a
  finished suite run's dir: refused before anything is written."""
  out, _ = finished
  run = out / "ner" / "s800" / "all" / "seed1"
  before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
  bert = world["bert"]
  result = run_tool(
      ["run_ner.py", "--do_train=true", "--do_predict=true",
       "--vocab_file=%s/vocab.txt" % bert,
       "--bert_config_file=%s/bert_config.json" % bert,
       "--init_checkpoint=%s" % glob.glob(bert + "/*.index")[0][:-6],
       "--data_dir=%s/NER/NCBI-disease" % world["data"],
       "--output_dir=%s" % run, "--max_seq_length=32", "--seed=1",
       "--train_batch_size=2", "--learning_rate=1e-3", "--max_train_steps=30",
       "--do_lower_case=false"], expect_ok=False)
  assert result.returncode == 2, result.stderr
  assert "training_data_sha256.train: recorded" in result.stderr
  assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
  again = run_tool(_args(world, out), timeout=300)
  assert "Nothing to run" in again.stdout


def test_a_changed_suite_file_is_refused_then_redone(world, finished,
                                                     tmp_path):
  whole, _ = finished
  out = tmp_path / "copy"
  import shutil
  shutil.copytree(whole, out)
  changed = write_file(tmp_path / "suite.toml", SUITE.replace(
      "folds = [1, 2]\nseeds = [1]\nmax_steps = 30",
      "folds = [1, 2]\nseeds = [1]\nmax_steps = 20"))
  args = _args(world, out)
  args[1] = "--suite=" + changed
  result = run_tool(args, expect_ok=False, timeout=300)
  assert result.returncode == 2
  assert result.stderr == (
      "error: 2 jobs in %s ran with other settings, data or model than %s "
      "now gives:\n"
      "  re/GAD/1/seed1: flags.max_train_steps: 30 -> 20\n"
      "  re/GAD/2/seed1: flags.max_train_steps: 30 -> 20\n"
      "Run with --redo_changed to delete and redo them, or use a new "
      "--output_dir.\n" % (out, changed))
  redo = run_tool(args + ["--redo_changed"], timeout=600)
  assert "Deleted 2 changed jobs to run again" in redo.stdout
  assert "Running 2 of 6 jobs" in redo.stdout
  state = json.loads((out / "re/GAD/1/seed1/suite_job.json").read_text())
  assert state["status"] == "done"
  assert state["definition"]["flags"]["max_train_steps"] == 20
  # Only the last checkpoint is kept (keep = "best", no best/ here), and
  # without the optimizer's slots.
  run = out / "re/GAD/1/seed1"
  assert sorted(p.name for p in run.glob("model.ckpt-*")) == [
      "model.ckpt-20.data-00000-of-00001", "model.ckpt-20.index"]
  import tensorflow.compat.v1 as tf
  names = tf.train.load_checkpoint(str(run / "model.ckpt-20")
                                   ).get_variable_to_shape_map()
  assert "global_step" in names and "output_weights" in names
  assert not [n for n in names if "adam" in n]
  # The same run again from the slimmed dir trains nothing and predicts
  # the same probabilities.
  from suite_runner import engine
  before = (run / "test_results.tsv").read_bytes()
  job = state["job"]
  flags = json.loads((out / "suite_run.json").read_text())  # the model's
  again = subprocess.run(engine.command(job, flags, str(out)), cwd=ROOT,
                         capture_output=True, text=True,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert again.returncode == 0, again.stderr[-3000:]
  assert (run / "test_results.tsv").read_bytes() == before


def test_job_definitions_name_what_changed(tmp_path):
  from suite_runner import engine
  data = tmp_path / "data"
  data.mkdir()
  (data / "train.tsv").write_text("a\t0\n")
  model = {"vocab_file": write_file(tmp_path / "vocab.txt", "[PAD]\n")}
  job = {"task": "re", "seed": 1, "path": "re/x/1/seed1", "metrics": ["f1"],
         "flags": {"data_dir": str(data), "max_train_steps": 30}}
  first = engine.definition(job, model, engine.Digests(), ("data_dir",))
  assert engine.status(None, job, first) == ("pending", [])
  running = {"job": job, "definition": first, "status": "running"}
  assert engine.status(running, job, first) == ("pending", [])
  done = dict(running, status="done")
  assert engine.status(done, job, first) == ("done", [])
  (data / "train.tsv").write_text("b\t0\n")  # the same size
  now = engine.definition(job, model, engine.Digests(), ("data_dir",))
  status, why = engine.status(done, job, now)
  assert status == "changed"
  assert why == ["data_sha256.data_dir.train.tsv: %s... -> %s..." % (
      first["data_sha256"]["data_dir"]["train.tsv"][:12],
      now["data_sha256"]["data_dir"]["train.tsv"][:12])]
  # A record written before definitions were: its job's fields decide.
  assert engine.status({"job": job}, job, now) == ("done", [])
  # A damaged record: told, and the job runs again.
  run = tmp_path / "out" / job["path"]
  run.mkdir(parents=True)
  (run / "suite_job.json").write_text('{"job": ')
  told = []
  assert engine.read_state(str(tmp_path / "out"), job, told.append) is None
  assert told[0].startswith("%s:1: not valid JSON" % (run / "suite_job.json"))


def test_finished_runs_keep_the_checkpoints_the_suite_asks_for(tmp_path):
  from suite_runner import engine

  def run_dir(name, best=False):
    d = tmp_path / name
    d.mkdir()
    for step in (10, 20, 30):
      for ext in ("index", "data-00000-of-00001", "meta"):
        (d / ("model.ckpt-%d.%s" % (step, ext))).write_text("x")
    (d / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-30"\n')
    (d / "ner_scores.json").write_text("{}")
    if best:
      (d / "best").mkdir()
      (d / "best" / "best.json").write_text('{"step": 20}')
    return d

  for keep, best, left in (
      ("last", False, ["checkpoint", "model.ckpt-30.data-00000-of-00001",
                       "model.ckpt-30.index", "model.ckpt-30.meta",
                       "ner_scores.json"]),
      ("best", False, ["checkpoint", "model.ckpt-30.data-00000-of-00001",
                       "model.ckpt-30.index", "model.ckpt-30.meta",
                       "ner_scores.json"]),
      ("best", True, ["best", "ner_scores.json"]),
      ("none", True, ["ner_scores.json"])):
    d = run_dir("%s-%s" % (keep, best), best)
    engine.keep_checkpoints(str(d), keep)
    assert sorted(p.name for p in d.iterdir()) == left
  assert (tmp_path / "last-False" / "checkpoint").read_text() == (
      'model_checkpoint_path: "model.ckpt-30"\n'
      'all_model_checkpoint_paths: "model.ckpt-30"\n')


def test_a_damaged_or_nan_score_counts_as_missing(tmp_path):
  from suite_runner import report as report_lib
  jobs = []
  for seed, text in ((1, '{"entity_level": {"f1": 70.0}}'),
                     (2, '{"entity_level": {"f1": NaN}}'),
                     (3, '{"entity_level": {"f1": 7')):
    path = os.path.join("ner", "s800", "all", "seed%d" % seed)
    os.makedirs(tmp_path / path)
    (tmp_path / path / "ner_scores.json").write_text(text)
    jobs.append(spec.Job("ner", "s800", "all", seed, {}, ["entity_f1"],
                         path))
  told = []
  rows = report_lib.collect(jobs, str(tmp_path), warn=told.append)
  assert [r[1] for r in rows] == [{"entity_f1": 70.0}, None, None]
  assert told == [
      "%s/ner/s800/all/seed2/ner_scores.json:1: NaN is not a finite number "
      "(expected the score file of a finished run); counted as missing" %
      tmp_path,
      "%s/ner/s800/all/seed3/ner_scores.json:1: not valid JSON (expected the "
      "score file of a finished run): Expecting ',' delimiter: line 1 column "
      "26 (char 25); counted as missing" % tmp_path]
  report_lib.write(rows, str(tmp_path), "t")
  report = json.loads((tmp_path / "report.json").read_text())
  assert report["datasets"][0]["missing"] == 2
  assert report["datasets"][0]["metrics"][0]["mean"] == 70.0


@pytest.mark.parametrize("delay", [0.1, 0.6, 1.2, 2.0, 3.0])
def test_ctrl_c_at_start_up_stops_with_one_line(world, tmp_path, delay):
  """Ctrl-C while Python imports, the suite is read or the cluster starts:
  one line, exit 130, no process left, never ignored."""
  out = tmp_path / "out"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  suite = subprocess.Popen(
      [sys.executable] + _args(world, out), cwd=ROOT, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  time.sleep(delay)
  os.killpg(suite.pid, signal.SIGINT)
  _, stderr = suite.communicate(timeout=120)
  assert suite.returncode == 130, stderr
  assert stderr == ("interrupted: stopped by Ctrl-C; run the same command "
                    "again: finished jobs are kept and the others resume "
                    "from their last checkpoint\n")
  deadline = time.time() + 60
  while _runner_pids(out):
    assert time.time() < deadline, _runner_pids(out)
    time.sleep(0.1)


def _free_port():
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _wait_for_port(port, proc, seconds=60):
  import socket
  deadline = time.time() + seconds
  while time.time() < deadline:
    assert proc.poll() is None, proc.communicate()
    try:
      with socket.create_connection(("127.0.0.1", port), timeout=1):
        return
    except OSError:
      time.sleep(0.2)
  raise AssertionError("nothing listens on port %d" % port)


def test_schedulers_that_cannot_run_the_suite_are_told_in_one_line(world,
                                                                   tmp_path):
  """An http:// address, a port that is no Dask scheduler, and a scheduler
  started where the project's code cannot be imported: one line each,
  exit 2, within a bounded time, nothing run (loopback only)."""
  out = tmp_path / "out"
  result = run_tool(_args(world, out)[:-1] + [
      "--scheduler_address=http://127.0.0.1:8787"], expect_ok=False)
  assert result.returncode == 2
  assert result.stderr == (
      "error: --scheduler_address=http://127.0.0.1:8787: expected the "
      "scheduler's address, tcp://host:8786 (http is not a Dask scheduler's "
      "protocol; the dashboard's http:// address is not it)\n")
  assert not out.exists()

  http_port = _free_port()
  http = subprocess.Popen([sys.executable, "-m", "http.server", "--bind",
                           "127.0.0.1", str(http_port)], cwd=str(tmp_path),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  sched_port = _free_port()
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  scheduler = subprocess.Popen(
      [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
       "127.0.0.1", "--port", str(sched_port), "--no-dashboard"],
      cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL)
  try:
    _wait_for_port(http_port, http)
    begin = time.time()
    result = run_tool(_args(world, out)[:-1] + [
        "--scheduler_address=tcp://127.0.0.1:%d" % http_port],
                      expect_ok=False, timeout=120)
    assert time.time() - begin < 60
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        "error: --scheduler_address=tcp://127.0.0.1:%d: no Dask scheduler "
        "answered within 20 s (" % http_port), result.stderr
    assert result.stderr.count("\n") == 1
    _wait_for_port(sched_port, scheduler)
    result = run_tool(_args(world, out)[:-1] + [
        "--scheduler_address=tcp://127.0.0.1:%d" % sched_port],
                      expect_ok=False, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "error: --scheduler_address=tcp://127.0.0.1:%d: the cluster cannot "
        "import this project's code (ModuleNotFoundError: No module named "
        "'suite_runner'). Start its scheduler and workers from the project's "
        "folder, or with PYTHONPATH=%s, in this project's environment.\n" %
        (sched_port, ROOT))
    assert not list(out.glob("*/*/*/*/suite_job.json"))
  finally:
    for proc in (http, scheduler):
      proc.kill()
      proc.wait()


def test_a_full_disk_stops_the_suite_in_one_line(world, tmp_path,
                                                 small_disk):
  from tests.helpers import fill_disk
  suite = write_file(tmp_path / "one.toml", SUITE.split("[ner.s800]")[0]
                     .replace("seeds = [1, 2]", "seeds = [1]"))
  disk = small_disk("disk", 32768)
  out = disk / "out"
  args = _args(world, out)
  args[1] = "--suite=" + suite
  fill_disk(disk, 600 * 1024)
  result = run_tool(args, expect_ok=False, timeout=600)
  assert result.returncode == 1, result.stdout + result.stderr
  assert "Traceback" not in result.stderr
  warning, error = result.stderr.splitlines()
  assert warning.startswith("warning: the suite may not fit on this disk")
  assert error.startswith(
      "error: no space left on device (writing %s/ner/NCBI-disease/all/seed1"
      % out), result.stderr
  assert error.endswith(
      "free some space, then run the same command again: finished jobs are "
      "kept and the others resume from their last checkpoint")
  os.remove(str(disk / "filler"))
  again = run_tool(args, timeout=600)
  assert "Running 1 of 1 jobs" in again.stdout
  assert "| NER | NCBI-disease | entity F1 | 1 |" in again.stdout


def test_a_folder_of_other_files_is_refused(world, tmp_path):
  out = tmp_path / "mine"
  out.mkdir()
  (out / "notes.txt").write_text("mine")
  result = run_tool(_args(world, out), expect_ok=False)
  assert result.returncode == 2
  assert ("is not empty (notes.txt) and holds no suite_run.json: it is not "
          "the output of run_suite.py") in result.stderr
  assert os.listdir(out) == ["notes.txt"]
