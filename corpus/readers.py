"""Streaming readers of the formats the field exchanges.

Each reader yields, in file order, `documents.Document`s and, for records
it cannot read, `documents.Malformed`s (reported, counted and skipped by
the caller); the PubMed reader also yields the `documents.Deleted` PMIDs
of an update file's DeleteCitation. Memory does not grow with the file,
except for a BioC JSON collection, which the BioC JSON format keeps in one
JSON value (BioC JSON lines, one document a line, stream).

Formats:
  pubmed      PubMed/MEDLINE baseline and update files (.xml, .xml.gz):
              PMID, title, and the abstract's sections (one passage each);
              an update file's DeleteCitation PMIDs;
  bioc_xml    BioC XML (the `bioc` package);
  bioc_json   BioC JSON: a collection, or one document a line;
  pubtator    PubTator (`PMID|t|title`, `PMID|a|abstract`, annotations);
  jsonl       JSON Lines: {"id": ..., "text": ...} a line;
  text        plain text, one document a line (its id: the line number).
"""

import gzip
import io
import json
import os
import re

from corpus import documents

FORMATS = ("pubmed", "bioc_xml", "bioc_json", "pubtator", "jsonl", "text")
_PUBTATOR_LINE = re.compile(r"^[^|\t]+\|[ta]\|")


def open_binary(path):
  """The file's bytes, gunzipped when it ends in .gz."""
  return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def open_text(path):
  return io.TextIOWrapper(open_binary(path), encoding="utf-8", newline="")


def detect_format(path):
  """The format of `path` from its name and first bytes, or None."""
  name = path[:-3] if path.endswith(".gz") else path
  ext = os.path.splitext(name)[1].lower()
  if ext == ".jsonl":
    return "jsonl"
  if ext in (".pubtator",):
    return "pubtator"
  with open_binary(path) as f:
    head = f.read(4096).decode("utf-8", "replace")
  if ext == ".json":
    return "bioc_json"
  if ext == ".xml" or head.lstrip().startswith("<"):
    if re.search(r"<collection[\s>]", head):
      return "bioc_xml"
    if re.search(r"<(PubmedArticleSet|MedlineCitationSet|PubmedArticle)"
                 r"[\s>]", head):
      return "pubmed"
    return None
  first = next((l for l in head.splitlines() if l.strip()), "")
  if _PUBTATOR_LINE.match(first):
    return "pubtator"
  return "text"


def read(path, fmt):
  """The documents and malformed records of `path` read as `fmt`."""
  return _READERS[fmt](path)


def _text_of(element):
  """An element's text with its inline markup (<i>, <sup>...) dropped."""
  return " ".join("".join(element.itertext()).split())


def read_pubmed(path):
  """PubmedArticle records: the PMID, the title, each AbstractText; and
  the PMIDs of a DeleteCitation (update files end with one).

  Titles and sections are joined by one space (PubTator's layout); a
  structured abstract's section label is kept as the passage's
  `section` infon. A record without a PMID, or without a title and an
  abstract, is malformed; an XML error ends the file (reported with its
  line).
  """
  from lxml import etree  # pylint: disable=g-import-not-at-top
  last_id = None
  with open_binary(path) as f:
    try:
      for _, element in etree.iterparse(f, events=("end",),
                                        tag=("PubmedArticle",
                                             "DeleteCitation")):
        source = "%s:%s" % (path, element.sourceline)
        if element.tag == "DeleteCitation":
          yield documents.Deleted(source, [
              p.text.strip() for p in element.findall("PMID")
              if p.text and p.text.strip()])
          element.clear()
          continue
        citation = element.find("MedlineCitation")
        pmid = citation.findtext("PMID") if citation is not None else None
        pmid = pmid.strip() if pmid else None
        if not pmid:
          yield documents.Malformed(source, None, "no PMID")
        else:
          last_id = pmid
          article = citation.find("Article")
          title_el = article.find("ArticleTitle") if article is not None \
              else None
          title = _text_of(title_el) if title_el is not None else ""
          parts = [("title", title, None)] if title else []
          for section in (article.findall("Abstract/AbstractText")
                          if article is not None else []):
            text = _text_of(section)
            if text:
              label = section.get("Label")
              parts.append(("abstract", text,
                            {"section": label} if label else None))
          if parts:
            yield documents.Document(pmid, documents.joined(parts))
          else:
            yield documents.Malformed(source, pmid, "no title or abstract")
        element.clear()
        while element.getprevious() is not None:
          del element.getparent()[0]
    except etree.XMLSyntaxError as e:
      yield documents.Malformed("%s:%s" % (path, e.lineno), last_id,
                                "XML error, the rest of the file is not "
                                "read: %s" % e.msg)


def _from_bioc(document):
  passages = [documents.Passage(p.infons.get("type") or "text", p.offset,
                                p.text or "", dict(p.infons))
              for p in document.passages]
  return documents.Document(document.id, passages, dict(document.infons))


def _bioc_problem(document):
  if not document.id:
    return "no document id"
  for p in document.passages:
    if p.text is None:
      return "a passage at offset %s has no text" % p.offset
  return None


def read_bioc_xml(path):
  """BioC XML documents, read one at a time with the `bioc` package."""
  from bioc import biocxml  # pylint: disable=g-import-not-at-top
  from lxml import etree  # pylint: disable=g-import-not-at-top
  last_id = None
  with open_binary(path) as f:
    try:
      with biocxml.iterparse(f) as reader:
        for document in reader:
          problem = _bioc_problem(document)
          if problem:
            yield documents.Malformed(path, document.id or None, problem)
          else:
            last_id = document.id
            yield _from_bioc(document)
    except (etree.XMLSyntaxError, ValueError, TypeError) as e:
      yield documents.Malformed(path, last_id, "BioC XML error after this "
                                "document, the rest of the file is not "
                                "read: %s" % e)


def read_bioc_json(path):
  """BioC JSON: a collection, or one BioCDocument a line."""
  from bioc import biocjson  # pylint: disable=g-import-not-at-top
  with open_text(path) as f:
    first = f.readline()
    rest = f.read() if not _is_document_line(first) else None
  if rest is not None:  # a collection: one JSON value
    try:
      collection = biocjson.loads(first + rest)
    except (ValueError, KeyError, TypeError) as e:
      yield documents.Malformed(path, None, "not a BioC JSON collection: "
                                "%s" % e)
      return
    for document in collection.documents:
      problem = _bioc_problem(document)
      yield (documents.Malformed(path, document.id or None, problem)
             if problem else _from_bioc(document))
    return
  for source, value in _json_lines(path):
    try:
      if isinstance(value, ValueError):
        raise value
      document = biocjson.fromJSON(value, "BioCDocument")
    except (ValueError, KeyError, TypeError) as e:
      yield documents.Malformed(source, None, "not a BioC JSON document: "
                                "%s" % e)
      continue
    problem = _bioc_problem(document)
    yield (documents.Malformed(source, document.id or None, problem)
           if problem else _from_bioc(document))


def _json_lines(path):
  """("file:line", the line's JSON value or its ValueError) of each line
  that is not blank."""
  with open_text(path) as f:
    for number, line in enumerate(f, 1):
      if line.strip():
        try:
          value = json.loads(line)
        except ValueError as e:
          value = e
        yield "%s:%d" % (path, number), value


def _is_document_line(line):
  try:
    value = json.loads(line)
  except ValueError:
    return False
  return isinstance(value, dict) and value.get("bioctype") == "BioCDocument"


def read_pubtator(path):
  """PubTator documents: `PMID|t|title` and `PMID|a|abstract` lines, then
  annotation lines, a blank line between documents. The title and abstract
  become two passages (offsets 0 and len(title) + 1), as PubTator counts."""
  record, start = [], None
  with open_text(path) as f:
    for number, line in enumerate(f, 1):
      line = line.rstrip("\r\n")
      if not line.strip():
        if record:
          yield _pubtator_record(path, start, record)
        record = []
        continue
      if not record:
        start = number
      record.append(line)
  if record:
    yield _pubtator_record(path, start, record)


def _pubtator_record(path, line, lines):
  source = "%s:%d" % (path, line)
  title = abstract = pmid = None
  for text in lines:
    m = re.match(r"^([^|\t]+)\|([ta])\|(.*)$", text)
    if m:
      if pmid not in (None, m.group(1)):
        return documents.Malformed(source, pmid, "two PMIDs in one record "
                                   "(%s and %s): a blank line is missing" %
                                   (pmid, m.group(1)))
      pmid = m.group(1)
      if m.group(2) == "t":
        title = m.group(3)
      else:
        abstract = m.group(3)
  if pmid is None:
    return documents.Malformed(source, None, "no PMID|t| or PMID|a| line")
  parts = [("title", title or "", None)]
  if abstract is not None:
    parts.append(("abstract", abstract, None))
  return documents.Document(pmid, documents.joined(parts))


def read_jsonl(path):
  """{"id": ..., "text": ...} a line; the id may be a string or a number."""
  for source, value in _json_lines(path):
    if isinstance(value, ValueError):
      yield documents.Malformed(source, None, "not JSON: %s" % value)
      continue
    if not isinstance(value, dict):
      yield documents.Malformed(source, None, 'expected {"id", "text"}')
      continue
    doc_id, text = value.get("id"), value.get("text")
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or (
        doc_id == ""):
      yield documents.Malformed(source, None, '"id" is missing or not a '
                                "string or number")
    elif not isinstance(text, str):
      yield documents.Malformed(source, str(doc_id), '"text" is missing '
                                "or not a string")
    else:
      yield documents.Document(str(doc_id), [
          documents.Passage("text", 0, text)])


def read_text(path):
  """One document a line; its id is the line number."""
  with open_text(path) as f:
    for number, line in enumerate(f, 1):
      line = line.rstrip("\r\n")
      if line.strip():
        yield documents.Document(str(number), [
            documents.Passage("text", 0, line)])


_READERS = {"pubmed": read_pubmed, "bioc_xml": read_bioc_xml,
            "bioc_json": read_bioc_json, "pubtator": read_pubtator,
            "jsonl": read_jsonl, "text": read_text}
