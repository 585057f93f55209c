"""The official corpora the converters know: where each split's files are
in its release, what is converted, and the counts published for it.

`convert(name, release_dir, ...)` reads and checks a whole corpus before
anything is written, and returns a `Conversion`: the files to write (name ->
text) and the report (JSON-able) of what was counted and skipped.
"""

import collections
import dataclasses
import glob
import os
from typing import Dict, List, Optional, Tuple

from biocodes.official import ner_tsv
from biocodes.official import relations
from finetuning import errors

NCBI_TYPES = ("SpecificDisease", "DiseaseClass", "Modifier",
              "CompositeMention")
BIORED_TYPES = ("GeneOrGeneProduct", "DiseaseOrPhenotypicFeature",
                "ChemicalEntity", "SequenceVariant", "OrganismTaxon",
                "CellLine")
CHEMPROT_GROUPS = ("CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9")


@dataclasses.dataclass(frozen=True)
class Corpus:
  """A corpus the converters know.

  kind: "ner" or "re". splits: (split, path relative to the release)
  pairs; a path with * is a glob (DDI's XML files). reference: the folder
  of BioBERT's preprocessed set under data/NER to compare with, if any.
  published: {split: instances} of a published preprocessing, and its
  source.
  """
  name: str
  kind: str
  release: str
  splits: Tuple[Tuple[str, str], ...]
  types: Dict[str, str] = dataclasses.field(default_factory=dict)
  typed: bool = False
  reference: Optional[str] = None
  published: Dict[str, int] = dataclasses.field(default_factory=dict)
  source: str = ""
  note: str = ""


CORPORA = collections.OrderedDict((c.name, c) for c in [
    Corpus("NCBI-disease", "ner", "NCBI-disease", (
        ("train", "NCBItrainset_corpus.txt"),
        ("devel", "NCBIdevelopset_corpus.txt"),
        ("test", "NCBItestset_corpus.txt")),
           types={t: "Disease" for t in NCBI_TYPES},
           reference="NCBI-disease"),
    Corpus("BC5CDR-disease", "ner", "BC5CDR", (
        ("train", "CDR_TrainingSet.PubTator.txt"),
        ("devel", "CDR_DevelopmentSet.PubTator.txt"),
        ("test", "CDR_TestSet.PubTator.txt")),
           types={"Disease": "Disease"}, reference="BC5CDR-disease"),
    Corpus("BC5CDR-chem", "ner", "BC5CDR", (
        ("train", "CDR_TrainingSet.PubTator.txt"),
        ("devel", "CDR_DevelopmentSet.PubTator.txt"),
        ("test", "CDR_TestSet.PubTator.txt")),
           types={"Chemical": "Chemical"}, reference="BC5CDR-chem"),
    Corpus("BioRED", "ner", "BioRED", (
        ("train", "Train.PubTator"), ("devel", "Dev.PubTator"),
        ("test", "Test.PubTator")),
           types={t: t for t in BIORED_TYPES}, typed=True),
    Corpus("ChemProt", "re", "ChemProt", (
        ("train", "chemprot_training"), ("dev", "chemprot_development"),
        ("test", "chemprot_test_gs")),
           published={"train": 18035, "dev": 11268, "test": 15745},
           source="BLURB (Gu et al. 2021), as the issue quotes it"),
    Corpus("DDI", "re", "DDI2013", (
        ("train", "Train/*/*.xml"), ("dev", "Train/*/*.xml"),
        ("test", "Test/Test for DDI Extraction task/*/*.xml")),
           published={"train": 25296, "dev": 2496, "test": 5716},
           source="BLURB (Gu et al. 2021), as the issue quotes it",
           note="dev: one training document in ten (SHA-1 of the file "
           "name); BLURB's own list of dev documents is not published with "
           "the data"),
    Corpus("DrugProt", "re", "DrugProt", (
        ("train", "training"), ("dev", "development"),
        ("test", "development")),
           note="the official test set is not public: test.tsv is the "
           "development set (the same as dev.tsv), so dev and test scores "
           "are the same data"),
])

# The pair each relation corpus relates, and its masks.
PAIR_TYPES = {"ChemProt": ({"CHEMICAL"}, {"GENE"}),
              "DrugProt": ({"CHEMICAL"}, {"GENE"}),
              "DDI": ({"DRUG"}, {"DRUG"})}


@dataclasses.dataclass(frozen=True)
class Conversion:
  """What a converter made: files (name -> text) and the report."""
  files: Dict[str, str]
  report: dict


def _skips(skips):
  return [{"where": s.where, "reason": s.reason} for s in skips]


def _convert_ner(corpus, release, reference_dir):
  out, report = {}, collections.OrderedDict()
  sentences = {}
  for split, name in corpus.splits:
    path = os.path.join(release, name)
    found, counts, skips = ner_tsv.convert(path, corpus.types, corpus.typed)
    sentences[split] = found
    out[split + ".tsv"] = ner_tsv.tsv(found)
    entry = collections.OrderedDict(input=path, counts=dict(counts),
                                    skipped=_skips(skips))
    if reference_dir and corpus.reference:
      ref = os.path.join(reference_dir, corpus.reference, split + ".tsv")
      if os.path.exists(ref):
        ours = [(tuple(w[0] for w in s.words), tuple(s.tags))
                for s in found]
        entry["agreement"] = dict(ner_tsv.agreement(
            ours, ner_tsv.read_tsv_sentences(ref)), reference=ref)
    report[split] = entry
  out["train_dev.tsv"] = out["train.tsv"] + out["devel.tsv"]
  return out, report


def _convert_re(corpus, release, markers):
  first, second = PAIR_TYPES[corpus.name]
  out, report = {}, collections.OrderedDict()
  read = {}  # a folder two splits share (DrugProt's development) is read once
  for split, name in corpus.splits:
    counts, skips = collections.Counter(), []
    path = os.path.join(release, name)
    if name in read and corpus.name != "DDI":
      rows, counts, skips = read[name]
    elif corpus.name == "DDI":
      paths = sorted(glob.glob(path))
      if not paths:
        raise errors.UserError("%s: no DDI XML file (expected %s)" % (
            release, name))
      if split != "test":
        paths = [p for p in paths if relations.ddi_dev_document(p) ==
                 (split == "dev")]
      counts["documents"] = len(paths)
      documents = relations.read_ddi(paths, counts, skips)
    else:
      label_of = ((lambda l: l.lower() if l in CHEMPROT_GROUPS else None)
                  if corpus.name == "ChemProt" else (lambda l: l))
      if not os.path.isdir(path):
        raise errors.UserError("%s: not a folder (expected the %s split of "
                               "%s)" % (path, split, corpus.name))
      documents = relations.read_biocreative(path, label_of, counts, skips)
      counts["documents"] = len(documents)
    if name not in read or corpus.name == "DDI":
      rows = [i for d in documents for i in relations.instances(
          d, first, second, counts, skips, path, markers)]
      read[name] = rows, counts, skips
    out[split + ".tsv"] = relations.tsv(rows, header=split == "test")
    labels = collections.Counter(r.label for r in rows)
    entry = collections.OrderedDict(
        input=path, instances=len(rows), labels=dict(sorted(labels.items())),
        counts=dict(counts), skipped=_skips(skips))
    if split in corpus.published:
      entry["published_instances"] = corpus.published[split]
    report[split] = entry
  return out, report


def convert(name, release, reference_dir=None, markers=False):
  """The Conversion of corpus `name` from its release folder."""
  corpus = CORPORA[name]
  if not os.path.isdir(release):
    raise errors.UserError("%s: not a folder (expected the official release "
                           "of %s)" % (release, name))
  if corpus.kind == "ner":
    if markers:
      raise errors.UserError("--entity_markers is for the relation corpora "
                             "(%s)" % ", ".join(PAIR_TYPES))
    out, splits = _convert_ner(corpus, release, reference_dir)
  else:
    out, splits = _convert_re(corpus, release, markers)
  report = collections.OrderedDict(
      corpus=name, kind=corpus.kind, release=release,
      entity_markers=markers, splits=splits)
  if corpus.source:
    report["published_source"] = corpus.source
  if corpus.note:
    report["note"] = corpus.note
  return Conversion(out, report)


def summary(report):
  """Lines for the console: per split, what was written, beside the
  published counts and BioBERT's preprocessed set."""
  lines = []
  for split, entry in report["splits"].items():
    counts = entry["counts"]
    if report["kind"] == "ner":
      line = "%-6s %5d sentences, %5d entities" % (
          split, counts.get("sentences", 0), counts.get("entities", 0))
      agreement = entry.get("agreement")
      if agreement:
        line += ("; BioBERT's set: %d entities, %d sentences, %.1f %% of "
                 "ours identical" % (
                     agreement["reference_entities"],
                     agreement["reference_sentences"],
                     100.0 * agreement["identical"] /
                     max(agreement["sentences"], 1)))
    else:
      line = "%-6s %6d instances (%s)" % (split, entry["instances"], ", ".join(
          "%s %d" % kv for kv in entry["labels"].items()))
      if "published_instances" in entry:
        line += "; published: %d" % entry["published_instances"]
    skipped = len(entry["skipped"])
    if skipped:
      line += "; %d skipped (see the report)" % skipped
    lines.append(line)
  return lines
