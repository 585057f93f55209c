"""The model flags of tag_corpus.py and serve.py, checked once for both.

`--models` (NER run dirs, `type=dir` for an untyped model), `--re_model`
(a relation run whose two entity types the models give) and
`--normalizers` (run_norm.py runs, `type=dir`, of types the models give),
each read and checked before anything is written or served.
"""

import os

from corpus import tagging
from finetuning import errors
from finetuning import run_dir


def parse_models(value, vocab_file):
  """[(name, run dir, entity type or None)] of --models, checked."""
  specs, names = [], set()
  for item in value.split(","):
    item = item.strip()
    if not item:
      continue
    name, _, path = item.rpartition("=")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
      raise errors.UserError("--models: %s is not a directory (expected "
                             "[type=]run_dir, comma-separated)" % path)
    manifest, _ = tagging.read_run(path, vocab_file, ("ner",), "models")
    typed = tagging.entity_types(manifest["labels"], None) != [None]
    if not name and not typed:
      raise errors.UserError(
          "--models: %s was trained with untyped tags (B, I, O): name the "
          "type of its entities, e.g. --models=disease=%s" % (path, path))
    name = name or os.path.basename(path)
    if name in names:
      raise errors.UserError("--models: %s is named twice" % name)
    names.add(name)
    specs.append((name, path, None if typed else name))
  if not specs:
    raise errors.UserError("--models: expected [type=]run_dir, "
                           "comma-separated")
  return specs


def parse_normalizers(value, vocab_file, models):
  """[(entity type in lower case, run dir)] of --normalizers, checked: each
  a run_norm.py run of a type the --models give."""
  have = set()
  for _, path, typ in models:
    have.update(t.lower() for t in tagging.entity_types(
        run_dir.read_manifest(path)["labels"], typ))
  specs = tagging.parse_normalizers(value)
  for kind, path in specs:
    if kind not in have:
      raise errors.UserError("--normalizers: no model of --models gives %s "
                             "entities (they give %s)" % (
                                 kind, ", ".join(sorted(have))))
    tagging.check_normalizer(path, vocab_file)
  return specs


def check(models_value, re_model, normalizers_value, norm_threshold,
          vocab_file):
  """(NER specs, RE run dir or None, normalizer specs) of the flags,
  checked; UserError naming the flag otherwise."""
  models = parse_models(models_value, vocab_file)
  if re_model:
    re_model = os.path.abspath(re_model)
    manifest, _ = tagging.read_run(re_model, vocab_file, ("re",),
                                   "re_model")
    wanted = tagging.relation_dataset(manifest).entity_types
    have = set()
    for _, path, typ in models:
      labels = run_dir.read_manifest(path)["labels"]
      have.update(t.upper() for t in tagging.entity_types(labels, typ))
    if not set(wanted) <= have:
      raise errors.UserError(
          "--re_model: %s relates %s entities; the --models give %s" % (
              re_model, " and ".join(wanted), ", ".join(sorted(have))))
  normalizers = parse_normalizers(normalizers_value, vocab_file, models)
  if norm_threshold is not None and not 0.0 <= norm_threshold <= 1.0:
    raise errors.UserError("--norm_threshold=%s: expected a confidence "
                           "between 0 and 1" % norm_threshold)
  return models, re_model or None, normalizers
