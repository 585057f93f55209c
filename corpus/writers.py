"""Writers of tagged documents: BioC JSON and XML, PubTator, JSON Lines.

Every writer takes an iterable of tagged documents (`annotate.annotate`'s
dicts) and writes one shard to an open text file, one document at a time:

  bioc_json  a BioC JSON collection; each annotation has infons type,
             model and score (and, when normalized, identifier, e.g.
             MESH:D003924 or -1 below the threshold, and concept_score),
             one location (offset, length) and its text;
             each relation infons type, model, score and two nodes
             (roles Arg1 and Arg2);
  bioc_xml   the same in BioC XML (the `bioc` package's writer);
  pubtator   `id|t|title`, `id|a|rest`, then one line per annotation
             (id, start, end, text, type, concept ID as the BC5CDR and
             NCBI-disease files write it: D003924, OMIM:222100, -1 below
             the threshold, "-" for a type without a normalizer) and relation
             (id, type, Arg1 id, Arg2 id), a blank line after each document;
  jsonl      the tagged document as it is, one a line.

What a format cannot hold is never written garbled: `problem` tells why a
document cannot be written in a format (it is then reported as an error
record instead), and characters that XML 1.0 forbids (control characters)
are written as spaces in BioC XML, the same length, and counted.
"""

import json
import re

EXTENSIONS = {"bioc_json": ".bioc.json", "bioc_xml": ".bioc.xml",
              "pubtator": ".pubtator", "jsonl": ".jsonl"}
SOURCE = "tag_corpus.py"


# What XML 1.0 cannot hold: control characters but tab, line feed and
# carriage return; U+FFFE, U+FFFF; surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def write(fmt, tagged, f, date):
  """Writes the documents of `tagged` to `f` in `fmt`; `date` is the
  collection's date (BioC). Returns {what was changed: count} (BioC XML:
  the characters XML cannot hold, written as spaces)."""
  return _WRITERS[fmt](tagged, f, date) or {}


def problem(fmt, document):
  """Why `document` (a documents.Document) cannot be written in `fmt`
  without losing or garbling it, or None.

  PubTator keeps the id before `|t|` and tabs, and the text as a title
  line and an abstract line: an id holding `|`, a tab or a line break,
  and passages that overlap, come out of order or leave no space between
  the title and the rest, cannot be written.
  """
  if fmt != "pubtator":
    return None
  bad = re.search(r"[|\t\r\n]", document.id)
  if bad:
    return ("its id holds %s, which PubTator cannot hold (write BioC or JSON "
            "Lines)" % {"|": "'|'", "\t": "a tab"}.get(bad.group(),
                                                  "a line break"))
  end = None
  for k, p in enumerate(document.passages):
    if end is not None and p.offset < end + (1 if k == 1 else 0):
      return ("its passages at offsets %d and %d overlap or are out of "
              "order, and PubTator keeps one text (write BioC or JSON Lines)"
              % (document.passages[k - 1].offset, p.offset))
    end = p.offset + len(p.text)
  return None


def _xml_safe(value, replaced):
  if not isinstance(value, str):
    return value
  clean, n = _NOT_XML.subn(" ", value)
  replaced[0] += n
  return clean


def xml_safe_document(doc, replaced):
  """`doc` (a tagged document) with what XML cannot hold as spaces;
  `replaced[0]` counts them."""
  def clean(value):
    if isinstance(value, dict):
      return {_xml_safe(k, replaced): clean(v) for k, v in value.items()}
    if isinstance(value, list):
      return [clean(v) for v in value]
    return _xml_safe(value, replaced)
  return clean(doc)


def bioc_document(doc):
  """A `bioc.BioCDocument` of a tagged document."""
  import bioc  # pylint: disable=g-import-not-at-top
  document = bioc.BioCDocument()
  document.id = doc["id"]
  document.infons.update(doc["infons"])
  passages = []
  for p in doc["passages"]:
    passage = bioc.BioCPassage()
    passage.offset = p["offset"]
    passage.text = p["text"]
    passage.infons.update(p["infons"])
    passage.infons.setdefault("type", p["type"])
    passages.append(passage)
    document.add_passage(passage)
  for a in doc["annotations"]:
    annotation = bioc.BioCAnnotation()
    annotation.id = a["id"]
    annotation.text = a["text"]
    annotation.infons.update({"type": a["type"], "model": a["model"],
                              "score": "%s" % a["score"]})
    if "concept" in a:
      concept = a["concept"]
      annotation.infons["identifier"] = concept["id"] if concept else "-1"
      if concept:
        annotation.infons["concept_score"] = "%s" % concept["score"]
    annotation.add_location(bioc.BioCLocation(a["offset"], a["length"]))
    passages[a["passage"]].add_annotation(annotation)
  for r in doc["relations"]:
    relation = bioc.BioCRelation()
    relation.id = r["id"]
    relation.infons.update({"type": r["type"], "model": r["model"],
                            "score": "%s" % r["score"]})
    relation.add_node(bioc.BioCNode(r["arg1"], "Arg1"))
    relation.add_node(bioc.BioCNode(r["arg2"], "Arg2"))
    document.add_relation(relation)
  return document


def _bioc_json(tagged, f, date):
  from bioc import biocjson  # pylint: disable=g-import-not-at-top
  head = {"source": SOURCE, "date": date, "key": "", "version": "1.0",
          "infons": {}}
  f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "documents": [')
  for k, doc in enumerate(tagged):
    f.write(",\n" if k else "\n")
    f.write(json.dumps(biocjson.toJSON(bioc_document(doc)),
                       ensure_ascii=False))
  f.write("\n]}\n")


def _bioc_xml(tagged, f, date):
  import bioc  # pylint: disable=g-import-not-at-top
  from bioc import biocxml  # pylint: disable=g-import-not-at-top
  collection = bioc.BioCCollection()
  collection.source, collection.date, collection.key = SOURCE, date, ""
  writer = biocxml.BioCXMLDocumentWriter(f.buffer)
  writer.write_collection_info(collection)
  replaced = [0]
  for doc in tagged:
    writer.write_document(bioc_document(xml_safe_document(doc, replaced)))
  writer.close()
  f.buffer.flush()
  return ({"characters XML cannot hold, written as spaces": replaced[0]}
          if replaced[0] else {})


def _one_line(text):
  """PubTator keeps a passage on one line: line breaks become spaces (the
  same length, so offsets stay right)."""
  return text.replace("\r", " ").replace("\n", " ")


def document_text(doc):
  """The document's text: each passage at its offset, spaces between."""
  text = ""
  for p in doc["passages"]:
    text += " " * max(p["offset"] - len(text), 0)
    text = text[:p["offset"]] + p["text"]
  return text


def _pubtator(tagged, f, date):
  del date
  for doc in tagged:
    text = _one_line(document_text(doc))
    passages = doc["passages"]
    title_end = passages[0]["offset"] + len(passages[0]["text"]) if (
        passages) else 0
    f.write("%s|t|%s\n" % (doc["id"], text[:title_end]))
    f.write("%s|a|%s\n" % (doc["id"], text[title_end + 1:]))
    for a in doc["annotations"]:
      f.write("%s\t%d\t%d\t%s\t%s\t%s\n" % (
          doc["id"], a["offset"], a["offset"] + a["length"],
          _one_line(a["text"]), a["type"], _pubtator_id(a)))
    for r in doc["relations"]:
      f.write("%s\t%s\t%s\t%s\n" % (doc["id"], r["type"], r["arg1"],
                                    r["arg2"]))
    f.write("\n")


def _pubtator_id(annotation):
  """The 6th column: the concept as the corpora write it (no MESH:
  prefix), -1 below the threshold, "-" when the type is not normalized."""
  if "concept" not in annotation:
    return "-"
  concept = annotation["concept"]
  if not concept:
    return "-1"
  return concept["id"][5:] if concept["id"].startswith("MESH:") else (
      concept["id"])


def _jsonl(tagged, f, date):
  del date
  for doc in tagged:
    f.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")


_WRITERS = {"bioc_json": _bioc_json, "bioc_xml": _bioc_xml,
            "pubtator": _pubtator, "jsonl": _jsonl}
