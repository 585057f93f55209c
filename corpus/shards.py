"""Tagging one input file into one output shard, resumable exactly.

A shard is made of parts of `part_size` records (documents and malformed
records, in file order). Each part is tagged and written atomically to
`<output_dir>/.parts/<shard>/part-NNNNN.json`; a killed run leaves whole
parts only. The next run skips the records of the parts there are, tags
the rest, then writes the shard from all its parts (atomically), records
the shard's counts in `<output_dir>/.done/<shard>.json` and removes the
parts. Part boundaries do not depend on when the run was stopped, and a
sentence's tags do not depend on its batch mates, so a resumed shard is
byte for byte the uninterrupted one.

`tag_shard` runs on a Dask worker; the models are loaded once per worker
process (`models_of`).
"""

import dataclasses
import functools
import glob
import itertools
import json
import os
import shutil
import time
from typing import Optional, Tuple

from corpus import annotate
from corpus import documents
from corpus import readers
from corpus import tagging
from corpus import writers
from finetuning import files

PARTS = ".parts"
DONE = ".done"
TOPIC = "tag_corpus"  # the progress events workers send to the client


def shard_name(path, fmt):
  """The output shard of input `path` in output format `fmt`."""
  name = os.path.basename(path)
  if name.endswith(".gz"):
    name = name[:-3]
  for ext in (".bioc.xml", ".bioc.json", ".xml", ".json", ".jsonl", ".txt",
              ".pubtator"):
    if name.endswith(ext):
      name = name[:-len(ext)]
      break
  return name + writers.EXTENSIONS[fmt]


def done_path(output_dir, shard):
  return os.path.join(output_dir, DONE, shard + ".json")


def forget(output_dir, shard):
  """Removes a shard, its done record and its parts (to tag it anew)."""
  for path in (os.path.join(output_dir, shard), done_path(output_dir, shard)):
    if os.path.exists(path):
      os.remove(path)
  shutil.rmtree(os.path.join(output_dir, PARTS, shard), ignore_errors=True)


def _record(path):
  """The JSON object in `path` (a record of ours), or None when it is
  missing or damaged (its work is done again rather than trusted)."""
  try:
    with open(path, encoding="utf-8") as f:
      value = json.load(f)
  except (OSError, ValueError):
    return None
  return value if isinstance(value, dict) else None


def is_done(output_dir, shard):
  """Whether the shard and a readable record of it are there."""
  return (os.path.exists(os.path.join(output_dir, shard)) and
          _record(done_path(output_dir, shard)) is not None)


@functools.lru_cache(maxsize=1)
def models_of(models, re_model, normalizers, vocab_file, use_fp16,
              batch_size):
  """(NER models, RE model or None, {type: NormModel}), loaded once per
  process for one setting (the worker keeps them between shards)."""
  ner = [tagging.NerModel(tagging.ModelSpec(*m), vocab_file, use_fp16,
                          batch_size) for m in models]
  relation = (tagging.ReModel(re_model, vocab_file, use_fp16, batch_size)
              if re_model else None)
  norm = {kind: tagging.NormModel(path, vocab_file, use_fp16, batch_size,
                                  threshold)
          for kind, path, threshold in normalizers}
  return ner, relation, norm


def _parts(parts_dir):
  """(paths, records, document ids) of the part files there are, in order,
  each read once (a gap ends them: never happens with atomic writes, but
  a later part is then redone; so is a damaged part, with those after
  it)."""
  found, records, ids = [], 0, set()
  for k in itertools.count():
    path = os.path.join(parts_dir, "part-%05d.json" % k)
    if not os.path.exists(path):
      break
    part = _record(path) or {}
    if not isinstance(part.get("records"), int):
      for later in glob.glob(os.path.join(parts_dir, "part-*.json")):
        if later >= path:
          os.remove(later)
      break
    found.append(path)
    records += part["records"]
    ids.update(d["id"] for d in part.get("documents", []))
  return found, records, ids


def _chunks(iterable, size):
  iterator = iter(iterable)
  while True:
    chunk = list(itertools.islice(iterator, size))
    if not chunk:
      return
    yield chunk


def _parent_alive(pid):
  if pid is None:
    return True
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


@dataclasses.dataclass(frozen=True)
class Settings:
  """How every shard of one tag_corpus.py run is tagged and written.

  models: (name, run dir, entity type or None) of each NER model;
  re_model: the relation model's run dir, or None; normalizers: (entity
  type in lower case, run dir, threshold or None: the run's own) of each
  normalization model; format: the output
  format (writers.FORMATS); date: BioC's date; parent_pid: the command's
  process, without which a local worker stops (None: never).
  """
  output_dir: str
  format: str
  models: Tuple[Tuple[str, str, Optional[str]], ...]
  re_model: Optional[str]
  vocab_file: str
  use_fp16: bool
  batch_size: int
  part_size: int
  date: str
  normalizers: Tuple[Tuple[str, str, Optional[float]], ...] = ()
  parent_pid: Optional[int] = None


def tag_shard(job, settings, report=None):
  """Tags input `job["input"]` (read as `job["format"]`) into shard
  `job["shard"]`; returns its summary (counts, errors, seconds), or None
  when the command that asked for it is gone (`settings.parent_pid`).

  settings: a Settings. `report(event)`: called after each part with its
  counts.
  """
  begin = time.time()
  output_dir = settings.output_dir
  shard = job["shard"]
  parts_dir = os.path.join(output_dir, PARTS, shard)
  # The records done and the document ids met (repeated ids), of the
  # parts a killed run left.
  existing, skip, seen = _parts(parts_dir)
  ner, relation, norm = None, None, None
  records = readers.read(job["input"], job["format"])
  for chunk in _chunks(itertools.islice(records, skip, None),
                       settings.part_size):
    if ner is None:
      ner, relation, norm = models_of(
          settings.models, settings.re_model, settings.normalizers,
          settings.vocab_file, settings.use_fp16, settings.batch_size)
    started = time.time()
    chunk = [_writable(r, settings.format, job["input"]) for r in chunk]
    docs = [r for r in chunk if isinstance(r, documents.Document)]
    malformed = [r._asdict() for r in chunk
                 if isinstance(r, documents.Malformed)]
    deleted = [{"source": r.source, "id": pmid} for r in chunk
               if isinstance(r, documents.Deleted) for pmid in r.ids]
    # Documents that share an id with an earlier one of the same input are
    # tagged (they are records of their own) and counted, so that a user
    # who keys by id hears of it.
    repeated = []
    for d in docs:
      if d.id in seen:
        repeated.append(d.id)
      seen.add(d.id)
    tagged, counts = annotate.annotate(docs, ner, relation, norm)
    counts["errors"] = len(malformed)
    counts["deleted"] = len(deleted)
    counts["repeated_ids"] = len(repeated)
    part = {"records": len(chunk), "documents": tagged, "errors": malformed,
            "deleted": deleted, "repeated_ids": repeated, "counts": counts,
            "seconds": round(time.time() - started, 3)}
    if not _parent_alive(settings.parent_pid):
      return None  # the command was killed: its next run redoes this part
    path = os.path.join(parts_dir, "part-%05d.json" % len(existing))
    files.atomic_write(path, json.dumps(part, ensure_ascii=False) + "\n")
    existing.append(path)
    if report:
      report({"shard": shard, "documents": counts["documents"],
              "sentences": counts["sentences"], "errors": len(malformed)})
  summary = _write_shard(output_dir, shard, existing, settings)
  summary["seconds"] = round(time.time() - begin, 3)
  files.atomic_write(done_path(output_dir, shard),
                     json.dumps(summary, indent=1, sort_keys=True) + "\n")
  os.replace(os.path.join(output_dir, PARTS, shard + ".tmp"),
             os.path.join(output_dir, shard))
  shutil.rmtree(parts_dir, ignore_errors=True)
  try:
    os.rmdir(os.path.join(output_dir, PARTS))  # when no other shard has parts
  except OSError:
    pass
  return summary


def _writable(record, fmt, source):
  """`record`, or a Malformed record when the output format cannot hold
  the document (`writers.problem`)."""
  if isinstance(record, documents.Document):
    why = writers.problem(fmt, record)
    if why:
      return documents.Malformed(source, record.id, why)
  return record


def _documents(paths):
  for path in paths:
    with open(path, encoding="utf-8") as f:
      yield from json.load(f)["documents"]


def _write_shard(output_dir, shard, parts, settings):
  """Writes the shard from its parts to `.parts/<shard>.tmp` (renamed into
  place by the caller after the summary); returns the summary. The parts
  are read twice: once streaming their documents to the writer, once for
  the rest."""
  with files.atomic_file(os.path.join(output_dir, PARTS,
                                      shard + ".tmp")) as f:
    changed = writers.write(settings.format, _documents(parts), f,
                            settings.date)
  summary = {"shard": shard, "errors": [], "deleted": [], "repeated_ids": [],
             "changed": changed}
  found, part_seconds = [], 0.0
  for path in parts:
    with open(path, encoding="utf-8") as f:
      part = json.load(f)
    found.append(part["counts"])
    part_seconds += part["seconds"]
    for key in ("errors", "deleted", "repeated_ids"):
      summary[key].extend(part.get(key, []))
  summary.update(counts=sum_counts(found),
                 tagging_seconds=round(part_seconds, 3))
  return summary


def sum_counts(counts):
  """The sum of count dicts: documents, sentences, entities per type,
  relations, errors, deleted citations, documents whose id an earlier one
  of the same input had."""
  totals = {"documents": 0, "sentences": 0, "entities": {}, "relations": 0,
            "concepts": 0, "no_concept": 0, "errors": 0, "deleted": 0,
            "repeated_ids": 0}
  for c in counts:
    for key in ("documents", "sentences", "relations", "concepts",
                "no_concept", "errors", "deleted", "repeated_ids"):
      totals[key] += c.get(key, 0)
    for typ, n in c["entities"].items():
      totals["entities"][typ] = totals["entities"].get(typ, 0) + n
  totals["entities"] = dict(sorted(totals["entities"].items()))
  return totals


def expand_inputs(patterns):
  """The files of comma-separated glob patterns, in order, each once."""
  found = []
  for pattern in patterns.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    matches = sorted(glob.glob(os.path.expanduser(pattern)))
    if not matches:
      return None, pattern
    found.extend(m for m in matches if m not in found)
  return found, None
