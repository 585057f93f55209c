#!/usr/bin/env python
"""Tags a corpus with fine-tuned NER models (and optionally an RE model).

    python tag_corpus.py --input='pubmed24n*.xml.gz' \
      --models=disease=out_ncbi,chemical=out_chem --vocab_file=$BIOBERT_DIR/vocab.txt \
      --output_dir=tags --format=bioc_json [--re_model=out_gad]

Reads PubMed/MEDLINE XML (.xml, .xml.gz), BioC XML or JSON, PubTator,
JSON Lines ({"id", "text"}) or plain text (one document a line), one
output shard per input file. Each passage is split into sentences, every
model tags every sentence (overlapping spans of different models are all
kept, each with its type, model and score), and with --re_model each pair
of its entity types within a sentence is classified. Writes BioC JSON or
XML, PubTator or JSON Lines, each shard atomically, and manifest.json
(inputs, models with their run manifests, counts, errors, timings),
errors.tsv (the records that could not be read, skipped) and, for PubMed
update files, deleted.tsv (the PMIDs of their DeleteCitation elements,
whose annotations from earlier files are to be dropped).

Killed anywhere, the same command continues where it stopped and writes
the same bytes as a run that was not stopped. Shards are spread over Dask
workers: a local cluster by default (one worker per GPU, else one), or
--scheduler_address=tcp://host:8786 for a running cluster whose workers
share the code, the environment and --output_dir.
"""

import signal
# Ctrl-C is held from the first line until main() can stop cleanly
# (cluster.release_interrupts): no traceback from the middle of an import.
if __name__ == "__main__":
  signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

import argparse
import dataclasses
import datetime
import errno
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, ROOT)

import finetuning  # noqa: F401,E402  first: quiets TensorFlow's C++ start-up lines
from corpus import model_flags  # noqa: E402
from corpus import readers  # noqa: E402
from corpus import shards  # noqa: E402
from corpus import tagging  # noqa: E402
from corpus import writers  # noqa: E402
from finetuning import cluster  # noqa: E402
from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402

MANIFEST = "manifest.json"
RESUME_HINT = ("run the same command again: it goes on from the last "
               "documents written")
ERRORS = "errors.tsv"
DELETED = "deleted.tsv"
# What makes two runs the same run (a rerun resumes; another is refused).
SAME_RUN = ("inputs", "format", "models", "re_model", "normalizers",
            "norm_threshold", "vocab_sha256", "part_size", "use_fp16")


def plan(args):
  """Checks every input, model and output; returns (run record, jobs)."""
  if args.format not in writers.EXTENSIONS:
    raise errors.UserError("--format=%s: expected one of %s" % (
        args.format, ", ".join(writers.EXTENSIONS)))
  if args.input_format != "auto" and args.input_format not in (
      readers.FORMATS):
    raise errors.UserError("--input_format=%s: expected auto or one of %s" %
                           (args.input_format, ", ".join(readers.FORMATS)))
  for flag in ("batch_size", "part_size"):
    if getattr(args, flag) < 1:
      raise errors.UserError("--%s=%d: expected a whole number >= 1" %
                             (flag, getattr(args, flag)))
  if cluster.check_arguments(args):
    raise errors.UserError(cluster.check_arguments(args))
  if not os.path.isfile(args.vocab_file):
    raise errors.UserError("--vocab_file=%s: file not found (the vocab.txt "
                           "the models were trained with)" % args.vocab_file)
  paths, missing = shards.expand_inputs(args.input)
  if not paths:
    raise errors.UserError("--input=%s: no file matches %s" %
                           (args.input, missing or "it"))
  jobs, by_shard = [], {}
  for path in paths:
    if not os.path.isfile(path):
      raise errors.UserError("--input: %s is not a file" % path)
    fmt = (readers.detect_format(path) if args.input_format == "auto" else
           args.input_format)
    readers.check_readable(path)
    if fmt is None:
      raise errors.UserError("--input: cannot tell the format of %s; name "
                             "it with --input_format" % path)
    shard = shards.shard_name(path, args.format)
    if shard in by_shard:
      raise errors.UserError("--input: %s and %s would both be written to "
                             "%s; give files of different names" %
                             (by_shard[shard], path, shard))
    by_shard[shard] = path
    jobs.append({"input": os.path.abspath(path), "format": fmt,
                 "shard": shard, "bytes": os.path.getsize(path),
                 "sha256": files.file_digest(path)})
  output_dir = os.path.abspath(args.output_dir)
  _check_outputs_are_not_inputs(output_dir, jobs)
  vocab_file = os.path.abspath(args.vocab_file)
  models, re_model, normalizers = model_flags.check(
      args.models, args.re_model, args.normalizers, args.norm_threshold,
      vocab_file)
  problem = files.directory_problem(output_dir, create=True)
  if problem:
    raise errors.UserError("--output_dir=%s: %s" % (output_dir, problem))
  record = {
      "inputs": [dict(j) for j in jobs], "format": args.format,
      "models": [dict(_model_record(p), name=n, entity_type=t)
                 for n, p, t in models],
      "re_model": None if re_model is None else _model_record(re_model),
      "normalizers": [dict(_model_record(p), type=t) for t, p in normalizers],
      "norm_threshold": args.norm_threshold,
      "vocab_sha256": files.file_digest(vocab_file),
      "part_size": args.part_size, "use_fp16": args.use_fp16,
  }
  path = os.path.join(output_dir, MANIFEST)
  redo = []
  if os.path.exists(path):
    before = files.read_json(path, "the manifest tag_corpus.py writes")
    if not isinstance(before, dict):
      raise errors.InputError(path, None, "expected a JSON object")
    redo = _changed_inputs(before, record, path, args.redo_changed)
    record["date"] = before.get("date")
  else:
    cluster.check_own_output_dir(output_dir, MANIFEST, "tag_corpus.py",
                                 "the shards")
  record["date"] = record.get("date") or datetime.date.today().strftime(
      "%Y%m%d")
  settings = shards.Settings(
      output_dir, args.format, tuple(tuple(m) for m in models), re_model,
      vocab_file, args.use_fp16, args.batch_size, args.part_size,
      record["date"], tuple((t, p, args.norm_threshold)
                            for t, p in normalizers))
  return record, jobs, settings, redo


def _model_record(path):
  """What a model run dir is, for manifest.json: its run manifest and the
  checkpoint that tags (name and SHA-256), so that a model trained further
  is another model."""
  manifest, checkpoint = tagging.read_run(path, None, ("ner", "re", "norm"),
                                          "models")
  return {"run_dir": path, "run_manifest": manifest,
          "checkpoint": os.path.relpath(checkpoint, path),
          "checkpoint_sha256": files.file_digest(checkpoint + ".index")}


def _check_outputs_are_not_inputs(output_dir, jobs):
  """Refuses an --output_dir where a shard or a record would be written
  over an input file."""
  names = [j["shard"] for j in jobs] + [MANIFEST, ERRORS, DELETED]
  outputs = {os.path.realpath(os.path.join(output_dir, n)): n for n in names}
  for job in jobs:
    hit = outputs.get(os.path.realpath(job["input"]))
    if hit:
      raise errors.UserError(
          "--output_dir=%s: %s would be written over the input %s; use "
          "another --output_dir" % (output_dir, hit, job["input"]))


def _changed_inputs(before, record, path, redo_changed):
  """The shards to tag again because their input file changed since the
  run recorded in `before` (with --redo_changed); refuses any other
  difference."""
  changed = [k for k in SAME_RUN if k != "inputs" and
             before.get(k) != record[k]]
  if changed:
    raise errors.UserError(
        "--output_dir=%s holds a tagging run with other %s (%s); use a new "
        "--output_dir, or run that command again to resume it" %
        (os.path.dirname(path), ", ".join(changed), path))
  old = {i.get("input"): i for i in before.get("inputs", [])
         if isinstance(i, dict)}
  new = {i["input"]: i for i in record["inputs"]}
  if set(old) != set(new):
    added = sorted(set(new) - set(old))
    gone = sorted(set(old) - set(new))
    raise errors.UserError(
        "--output_dir=%s holds a tagging run of other input files (%s%s%s);"
        " use a new --output_dir, or run that command again to resume it" % (
            os.path.dirname(path), "not: %s" % ", ".join(added[:3])
            if added else "", "; " if added and gone else "",
            "also: %s" % ", ".join(gone[:3]) if gone else ""))
  stale = [i for name, i in new.items() if old[name] != i]
  if stale and not redo_changed:
    raise errors.UserError(
        "%d input file%s changed since %s was tagged into %s: %s. Run "
        "with --redo_changed to tag %s again, or use a new --output_dir." % (
            len(stale), "" if len(stale) == 1 else "s",
            "it" if len(stale) == 1 else "they", os.path.dirname(path),
            ", ".join(i["input"] for i in stale[:3]) + (
                ", ..." if len(stale) > 3 else ""),
            "it" if len(stale) == 1 else "them"))
  return [i["shard"] for i in stale]


class Progress(object):
  """Documents, sentences, their rates and an ETA over shards: a tqdm bar
  on a terminal, else a line every `every` seconds."""

  def __init__(self, shards_total, shards_done, every=30.0):
    self.total, self.done = shards_total, shards_done
    self.start_done = shards_done
    self.documents = self.sentences = self.errors = 0
    self.begin = self.last = time.time()
    self.every = every
    self.bar = None
    if sys.stderr.isatty():
      import tqdm  # pylint: disable=g-import-not-at-top
      self.bar = tqdm.tqdm(unit=" docs", dynamic_ncols=True)

  def _postfix(self):
    seconds = max(time.time() - self.begin, 1e-9)
    text = "%.1f sentences/s, shards %d/%d" % (self.sentences / seconds,
                                               self.done, self.total)
    eta = cluster.eta(seconds, self.done - self.start_done,
                      self.total - self.done)
    if eta:
      text += ", ETA %s" % eta
    return text

  def part(self, event):
    self.documents += event["documents"]
    self.sentences += event["sentences"]
    self.errors += event["errors"]
    if self.bar is not None:
      self.bar.update(event["documents"])
      self.bar.set_postfix_str(self._postfix(), refresh=True)
    elif time.time() - self.last >= self.every:
      self.last = time.time()
      seconds = max(self.last - self.begin, 1e-9)
      print("%d documents (%.1f/s), %s" % (
          self.documents, self.documents / seconds, self._postfix()),
            flush=True)

  def shard(self, summary):
    self.done += 1
    line = "%s: %d documents, %d sentences, %d entities%s (%.0f s)" % (
        summary["shard"], summary["counts"]["documents"],
        summary["counts"]["sentences"],
        sum(summary["counts"]["entities"].values()),
        "".join(", %d %s" % (summary["counts"].get(key, 0), what)
                for key, what in (("errors", "errors"),
                                  ("deleted", "deleted citations"))
                if summary["counts"].get(key)), summary["seconds"])
    if self.bar is not None:
      self.bar.write(line)
      self.bar.set_postfix_str(self._postfix(), refresh=True)
    else:
      print("[%d/%d] %s" % (self.done, self.total, line), flush=True)

  def close(self):
    if self.bar is not None:
      self.bar.close()


def _tag_on_worker(job, settings):
  """tag_shard on a Dask worker: its share of the machine, progress
  events to the client."""
  from distributed import get_worker  # pylint: disable=g-import-not-at-top
  from finetuning import console  # pylint: disable=g-import-not-at-top
  console.no_deprecation_notices()
  cluster.pin_worker()
  worker = get_worker()
  try:
    return shards.tag_shard(
        job, settings, lambda event: worker.log_event(shards.TOPIC, event))
  except Exception as e:  # pylint: disable=broad-except
    # A full disk or another failure of the machine: said in one line by
    # the command (not Dask's "Compute Failed" report of a traceback).
    if errors.environment_message(e) is None:
      raise
    if isinstance(e, OSError):
      return {"os_error": [e.errno, e.strerror, e.filename]}
    return {"os_error": [errno.ENOSPC, "No space left on device",
                         os.path.join(settings.output_dir, job["shard"])]}


def run(jobs, settings, args, show):
  """Tags the shards not yet done on a Dask cluster; their summaries."""
  from distributed import as_completed  # pylint: disable=g-import-not-at-top
  client, local = cluster.client_for(args.scheduler_address, args.workers,
                                     needs="corpus.shards")
  if local is not None:  # orphaned local workers stop with this command
    settings = dataclasses.replace(settings, parent_pid=os.getpid())
  client.subscribe_topic(shards.TOPIC, lambda event: show.part(event[1]))
  summaries = []
  try:
    futures = [client.submit(_tag_on_worker, job, settings,
                             key="tag_corpus-%s" % job["shard"], pure=False)
               for job in jobs]
    for future in as_completed(futures):
      summary = future.result()
      if summary and "os_error" in summary:  # the others would fail too
        raise OSError(*summary["os_error"])
      summaries.append(summary)
      show.shard(summary)
  finally:
    client.close()
    if local is not None:
      local.close()
  return summaries


def finish(record, jobs, output_dir, wall):
  """manifest.json and errors.tsv from every shard's summary; prints the
  summary of the corpus."""
  summaries = []
  for job in jobs:
    summaries.append(files.read_json(
        shards.done_path(output_dir, job["shard"]),
        "the record of a tagged shard"))
  totals = shards.sum_counts(s["counts"] for s in summaries)
  errors_rows = [e for s in summaries for e in s["errors"]]
  timings = {s["shard"]: s["seconds"] for s in summaries}
  tagging = sum(s["tagging_seconds"] for s in summaries)
  record = dict(record, counts=totals, shard_seconds=timings,
                tagging_seconds=round(tagging, 3),
                wall_seconds=round(wall, 1), status="done")
  files.atomic_write(os.path.join(output_dir, ERRORS), "source\tid\treason\n" +
                     "".join(_tsv_row(e["source"], e["id"] or "", e["reason"])
                             for e in errors_rows))
  deleted_rows = [d for s in summaries for d in s.get("deleted", [])]
  if deleted_rows:
    files.atomic_write(os.path.join(output_dir, DELETED), "source\tid\n" +
                       "".join(_tsv_row(d["source"], d["id"])
                               for d in deleted_rows))
  changed = {}
  for s in summaries:
    for what, n in s.get("changed", {}).items():
      changed[what] = changed.get(what, 0) + n
  if changed:
    record["changed"] = changed
  files.atomic_write(os.path.join(output_dir, MANIFEST),
                     json.dumps(record, indent=2, sort_keys=True) + "\n")
  print("Tagged %d documents, %d sentences in %s: %s; %d relations; "
        "%d errors%s" % (
            totals["documents"], totals["sentences"],
            cluster.duration(wall),
            ", ".join("%d %s" % (n, t) for t, n in totals["entities"].items())
            or "no entities", totals["relations"], totals["errors"],
            " (%s)" % os.path.join(output_dir, ERRORS) if totals["errors"]
            else ""))
  for what, n in sorted(changed.items()):
    print("%d %s" % (n, what))
  repeated = [(s["shard"], i) for s in summaries
              for i in s.get("repeated_ids", [])]
  if repeated:
    print("%d documents have the id of an earlier document of the same input "
          "(each is tagged and written): %s" % (len(repeated), ", ".join(
              "%s in %s" % (i, shard) for shard, i in repeated[:5]) + (
                  ", ..." if len(repeated) > 5 else "")))
  if deleted_rows:
    print("%d PMIDs deleted by PubMed since earlier files (%s): drop their "
          "earlier annotations" % (len(deleted_rows),
                                   os.path.join(output_dir, DELETED)))
  print("Outputs in %s: %d shard%s (%s), %s" % (
      output_dir, len(jobs), "" if len(jobs) == 1 else "s", record["format"],
      MANIFEST))


def _tsv_row(*cells):
  """A line of TSV; a backslash, tab or line break inside a cell is
  written as \\\\, \\t, \\n or \\r, so that every row stays one line of its
  columns."""
  return "\t".join(
      str(c).replace("\\", "\\\\").replace("\t", "\\t").replace(
          "\n", "\\n").replace("\r", "\\r") for c in cells) + "\n"


def main(argv=None):
  cluster.release_interrupts()
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n")[0],
      formatter_class=cluster.HelpFormatter,
      epilog=__doc__.split("\n", 2)[2])
  parser.add_argument("--input", required=True,
                      help="input files: comma-separated glob patterns")
  parser.add_argument("--input_format", default="auto",
                      help="auto (by name and content) or one of " +
                      ", ".join(readers.FORMATS))
  parser.add_argument("--models", required=True,
                      help="NER run dirs, comma-separated, each as "
                      "type=run_dir (untyped B/I/O models) or run_dir "
                      "(typed labels, e.g. B-Disease)")
  parser.add_argument("--re_model", default=None,
                      help="an RE run dir (gad, euadr, chemprot): relations "
                      "between its entity types within a sentence")
  parser.add_argument("--normalizers", default=None,
                      help="run_norm.py run dirs, comma-separated, each as "
                      "type=run_dir (e.g. disease=out_norm): a concept ID "
                      "for each entity of that type")
  parser.add_argument("--norm_threshold", type=float, default=None,
                      help="the confidence (0-1) under which an entity gets "
                      "no ID (-1); default: each normalizer's own, chosen "
                      "on dev by run_norm.py --do_eval (0 without one)")
  parser.add_argument("--vocab_file", required=True,
                      help="the vocab.txt the models were trained with")
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--format", default="bioc_json",
                      help="output: " + ", ".join(writers.EXTENSIONS))
  parser.add_argument("--batch_size", type=int, default=32,
                      help="sentences (windows) a prediction batch holds")
  parser.add_argument("--part_size", type=int, default=200,
                      help="documents between two resume points")
  parser.add_argument("--use_fp16", action="store_true",
                      help="bfloat16 on a CPU that has it, float16 on a GPU")
  parser.add_argument("--redo_changed", action="store_true",
                      help="tag again the input files that changed since "
                      "they were tagged into --output_dir (without it, a "
                      "changed input is refused)")
  cluster.add_arguments(parser)
  args = parser.parse_args(argv)
  begin = time.time()
  record, jobs, settings, redo = plan(args)  # a UserError: one line, exit 2
  output_dir = settings.output_dir
  plain = [j["input"] for j in jobs if j["format"] == "text"]
  if plain:
    print("Plain text (%s%s): one document a line, its id the line number"
          % (", ".join(os.path.basename(p) for p in plain[:3]),
             ", ..." if len(plain) > 3 else ""))
  for shard in redo:
    shards.forget(output_dir, shard)
  if redo:
    print("Tagging again the shard%s of %d changed input file%s" % (
        "" if len(redo) == 1 else "s", len(redo),
        "" if len(redo) == 1 else "s"))
  files.atomic_write(os.path.join(output_dir, MANIFEST),
                     json.dumps(dict(record, status="running"), indent=2,
                                sort_keys=True) + "\n")
  pending = [j for j in jobs if not shards.is_done(output_dir, j["shard"])]
  if pending:
    print("Tagging %d of %d input files with %s; outputs in %s" % (
        len(pending), len(jobs), ", ".join(m[0] for m in settings.models),
        output_dir), flush=True)
    show = Progress(len(jobs), len(jobs) - len(pending))
    try:
      run(pending, settings, args, show)
    finally:
      show.close()
  else:
    print("Nothing to tag: all %d shards are done in %s" % (len(jobs),
                                                            output_dir))
  finish(record, jobs, output_dir, time.time() - begin)
  return 0


if __name__ == "__main__":
  sys.exit(errors.run_main(main, RESUME_HINT)(sys.argv[1:]))
