"""ChemProt, DrugProt and DDI 2013 -> the RE TSV of BioBERT's data sets.

BLURB's recipe (Gu et al. 2021): every pair of the two related entity
types that lies in one sentence is an instance; its label is the gold
relation of that pair, else `false`; the two entities are replaced by masks
(`@CHEMICAL$`, `@GENE$`, `@DRUG$`). The files are `train.tsv` and `dev.tsv`
(`sentence<TAB>label`) and `test.tsv` (`index<TAB>sentence<TAB>label` with a
header; the index names the document and the two entities).

What the recipe cannot hold is counted and reported: a gold relation whose
entities are in different sentences (no instance), two entities of a pair
that overlap (skipped), a pair with two gold labels (the first kept), a
relation naming an entity the file does not have (skipped), an entity
whose text is not at its offsets (skipped).
"""

import collections
import dataclasses
import hashlib
import os
import re
from typing import List, Tuple

from biocodes import re_io
from biocodes.official import ner_tsv
from biocodes.official import pubtator
from finetuning import errors
from finetuning import files


@dataclasses.dataclass(frozen=True)
class Entity:
  """An entity: its id in the document, type (CHEMICAL, GENE, DRUG, ...),
  its spans (more than one for DDI's discontinuous entities; offsets into
  the document, end exclusive) and text."""
  id: str
  type: str
  spans: Tuple[Tuple[int, int], ...]
  text: str

  @property
  def start(self):
    return self.spans[0][0]

  @property
  def end(self):
    return self.spans[-1][1]


@dataclasses.dataclass(frozen=True)
class Document:
  """A document: id, text, sentence spans, entities and gold relations
  {(first id, second id): label}."""
  id: str
  text: str
  sentences: List[Tuple[int, int]]
  entities: List[Entity]
  relations: dict
  left_out: frozenset = frozenset()
  where: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Instance:
  """One row of the TSV: index, masked sentence, label, and the entities."""
  index: str
  sentence: str
  label: str
  first: Entity
  second: Entity


def _index(doc_id, first, second):
  """test.tsv's index of a pair: the document and the two entity ids (DDI's
  entity ids, which repeat the sentence's, shortened)."""
  short = [i[len(doc_id) + 1:] if i.startswith(doc_id + ".") else i
           for i in (first, second)]
  return ".".join([doc_id] + short)


def masked(text, start, first, second, markers=False):
  """text (a sentence beginning at `start` in its document) with the two
  entities masked as @TYPE$ (or, with `markers`, marked with their types:
  `biocodes.re_io.mark_pair`), each over the span from its first to its
  last character."""
  spans = [re_io.Span(e.start - start, e.end - start, e.type)
           for e in (first, second)]
  return (re_io.mark_pair if markers else re_io.mask_pair)(text, *spans)


def instances(doc, first_types, second_types, counts, skips, where,
              markers=False):
  """The instances of one Document: every (first, second) pair of one
  sentence (of a data set relating one type to itself, each two entities
  once, in text order), labelled by the gold relation or `false`."""
  out = []
  used = set()
  symmetric = first_types == second_types
  for s, e in doc.sentences:
    inside = sorted((x for x in doc.entities if s <= x.start and x.end <= e),
                    key=lambda x: (x.start, x.end))
    firsts = [x for x in inside if x.type in first_types]
    if symmetric:
      pairs = [(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:]]
    else:
      pairs = [(a, b) for a in firsts for b in inside
               if b.type in second_types and a.id != b.id]
    for a, b in pairs:
      if (a.id, b.id) in doc.left_out or (b.id, a.id) in doc.left_out:
        continue
      key = (a.id, b.id)
      if symmetric and key not in doc.relations:
        key = (b.id, a.id) if (b.id, a.id) in doc.relations else key
      label = doc.relations.get(key)
      used.add(key)
      if a.start < b.end and b.start < a.end:
        counts["pairs skipped: the two entities overlap"] += 1
        if label is not None:
          skips.append(pubtator.Skip(doc.where.get(key, where),
                                     "%s: gold relation %s of %s and "
                                     "%s, which overlap" % (
                                         doc.id, label, a.id, b.id)))
        continue
      sentence = masked(doc.text[s:e], s, a, b, markers)
      if any(c in sentence for c in "\t\n\r"):
        counts["sentences with tabs or line breaks (written as spaces)"] += 1
        sentence = re.sub(r"[\t\n\r]", " ", sentence)
      out.append(Instance(_index(doc.id, a.id, b.id), sentence,
                          label or "false", a, b))
  for key in doc.relations:
    if key not in used:
      counts["gold relations across sentences (no instance)"] += 1
  return out


# ChemProt and DrugProt (BioCreative VI and VII): three TSV files a split.

def _tsv_rows(path, what, width):
  lines = files.read_text_lines(path, what)
  for number, line in enumerate(lines, 1):
    line = line.rstrip("\r\n")
    if not line.strip():
      continue
    fields = line.split("\t")
    if len(fields) < width:
      raise errors.InputError(path, number, "expected %s (%d tab-separated "
                              "fields), found %d" % (what, width,
                                                     len(fields)))
    yield number, fields


def _one_file(folder, patterns, what):
  """The one file of `folder` whose name matches the first pattern that
  matches any (UserError if none, or several)."""
  import glob  # pylint: disable=g-import-not-at-top
  for pattern in patterns:
    found = sorted(glob.glob(os.path.join(folder, pattern)))
    if len(found) == 1:
      return found[0]
    if len(found) > 1:
      raise errors.UserError("%s: %d files of %s (%s); expected one" % (
          folder, len(found), what, ", ".join(map(os.path.basename, found))))
  raise errors.UserError("%s: no file of %s (%s)" % (folder, what,
                                                      " or ".join(patterns)))


def read_biocreative(folder, label_of, counts, skips):
  """[Document] of a ChemProt/DrugProt split folder: its abstracts
  (`*_abstracts*.tsv`; DrugProt spells it `abstracs`), entities and
  relations (ChemProt's `*_gold_standard.tsv`, the evaluated relations;
  DrugProt's `*_relations.tsv`).

  label_of: (relation label as written) -> label to write, or None to
    leave the relation out.
  """
  abstracts = _one_file(folder, ["*_abstracts*.tsv", "*_abstracs*.tsv"],
                        "abstracts")
  texts = collections.OrderedDict()
  for number, f in _tsv_rows(abstracts, "PMID, title, abstract", 3):
    if f[0] in texts:
      raise errors.InputError(abstracts, number, "PMID %s a second time" %
                              f[0])
    texts[f[0]] = (f[1], f[2])
  path = _one_file(folder, ["*_entities*.tsv"], "entities")
  entities = collections.defaultdict(dict)
  for number, f in _tsv_rows(path, "PMID, id, type, start, end, text", 6):
    if f[0] not in texts:
      raise errors.InputError(path, number, "PMID %s is not in %s" % (
          f[0], os.path.basename(abstracts)))
    if not (f[3].isdigit() and f[4].isdigit()):
      raise errors.InputError(path, number, "offsets %r-%r are not numbers"
                              % (f[3], f[4]))
    title, abstract = texts[f[0]]
    text = title + " " + abstract
    start, end = int(f[3]), int(f[4])
    if text[start:end] != f[5] or not start < end:
      skips.append(pubtator.Skip("%s:%d" % (path, number), "%r is not the "
                                 "text at %d-%d (%r)" % (
                                     f[5], start, end, text[start:end])))
      counts["entities skipped: text not at offsets"] += 1
      continue
    kind = "GENE" if f[2].startswith("GENE") else f[2]
    entities[f[0]][f[1]] = Entity(f[1], kind, ((start, end),), f[5])
  path = _one_file(folder, ["*_gold_standard*.tsv", "*_relations*.tsv"],
                   "relations")
  relations = collections.defaultdict(dict)
  lines = collections.defaultdict(dict)
  for number, f in _tsv_rows(path, "PMID, label, Arg1:Tx, Arg2:Ty", 4):
    label = label_of(f[1].strip())
    if label is None:
      counts["relations of other groups (not evaluated)"] += 1
      continue
    args = [a.split(":", 1)[1] if ":" in a else "" for a in f[-2:]]
    missing = [a for a in args if a not in entities[f[0]]]
    if missing:
      counts["relations skipped: name a missing entity"] += 1
      skips.append(pubtator.Skip("%s:%d" % (path, number), "relation %s "
                                 "names entity %s, which %s does not have"
                                 % (f[1], missing[0], f[0])))
      continue
    key = tuple(args)
    if key in relations[f[0]]:
      counts["pairs with a second gold label (first kept)"] += 1
      continue
    relations[f[0]][key] = label
    lines[f[0]][key] = "%s:%d" % (path, number)
    counts["gold relations"] += 1
  out = []
  for pmid, (title, abstract) in texts.items():
    text = title + " " + abstract
    found = list(entities[pmid].values())
    out.append(Document(pmid, text, ner_tsv.sentence_spans(
        text, len(title), found, counts, "entity"),
                        found, relations[pmid], where=lines[pmid]))
  return out


# DDI 2013: one XML file a document, sentences with their entities and pairs.

def read_ddi(paths, counts, skips):
  """[Document] (one per sentence) of DDI 2013 XML files."""
  from lxml import etree  # pylint: disable=g-import-not-at-top
  out = []
  parser = etree.XMLParser(resolve_entities=False, no_network=True)
  for path in paths:
    try:
      root = etree.parse(path, parser).getroot()
    except etree.XMLSyntaxError as e:
      raise errors.InputError(path, e.lineno, "not well-formed XML: %s" %
                              e.msg)
    for sentence in root.iter("sentence"):
      text = sentence.get("text")
      if text is None:
        raise errors.InputError(path, sentence.sourceline, "a <sentence> "
                                "without its text attribute")
      found = collections.OrderedDict()
      for entity in sentence.iter("entity"):
        where = "%s:%d" % (path, entity.sourceline)
        spans = _ddi_spans(entity.get("charOffset") or "")
        name = entity.get("text") or ""
        if spans is None or any(not 0 <= s < e <= len(text)
                                for s, e in spans):
          raise errors.InputError(path, entity.sourceline, "charOffset %r is "
                                  "not s-e[;s-e] inside the sentence" %
                                  entity.get("charOffset"))
        if "".join("".join(text[s:e] for s, e in spans).split()) != "".join(
            name.split()):
          counts["entities skipped: text not at offsets"] += 1
          skips.append(pubtator.Skip(where, "%r is not the text at %s (%r)"
                                     % (name, entity.get("charOffset"),
                                        " ".join(text[s:e]
                                                 for s, e in spans))))
          continue
        if len(spans) > 1:
          counts["discontinuous entities (masked from first to last "
                 "character)"] += 1
        found[entity.get("id")] = Entity(entity.get("id"), "DRUG",
                                         tuple(spans), name)
      relations, untyped, lines = {}, set(), {}
      for pair in sentence.iter("pair"):
        key = (pair.get("e1"), pair.get("e2"))
        if pair.get("ddi") != "true":
          continue
        label = (pair.get("type") or "").lower()
        if label not in ("advise", "effect", "mechanism", "int"):
          counts["interactions without a type (pair left out)"] += 1
          skips.append(pubtator.Skip("%s:%d" % (path, pair.sourceline),
                                     "ddi=\"true\" pair %s-%s of type %r "
                                     "(expected advise, effect, mechanism "
                                     "or int): left out" % (
                                         key + (pair.get("type"),))))
          untyped.add(key)
          continue
        if any(k not in found for k in key):
          counts["relations skipped: name a missing entity"] += 1
          skips.append(pubtator.Skip("%s:%d" % (path, pair.sourceline),
                                     "pair %s-%s names an entity the "
                                     "sentence does not have" % key))
          continue
        relations[key] = label
        lines[key] = "%s:%d" % (path, pair.sourceline)
        counts["gold relations"] += 1
      # An interaction of unknown type is neither a type nor "false": its
      # two entities are kept out of pairs with each other.
      out.append(Document(sentence.get("id"), text, [(0, len(text))],
                          list(found.values()), relations, frozenset(untyped),
                          lines))
  return out


def _ddi_spans(offset):
  spans = []
  for part in offset.split(";"):
    bounds = part.split("-")
    if len(bounds) != 2 or not all(b.strip().isdigit() for b in bounds):
      return None
    spans.append((int(bounds[0]), int(bounds[1]) + 1))  # end inclusive
  return spans or None


def ddi_dev_document(path):
  """Whether a DDI training file goes to dev: one document in ten, chosen
  by the SHA-1 of its file name (BLURB's list of dev documents is not
  published with the data; this split is stable and document-level)."""
  name = os.path.basename(path)
  return int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16) % 10 == 0


def tsv(rows, header):
  """The TSV text of instances: with a header and an index (test.tsv), or
  `sentence<TAB>label` (train.tsv, dev.tsv)."""
  if header:
    return "index\tsentence\tlabel\n" + "".join(
        "%s\t%s\t%s\n" % (r.index, r.sentence, r.label) for r in rows)
  return "".join("%s\t%s\n" % (r.sentence, r.label) for r in rows)
