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
import itertools
import io
import os
import re
import zlib

from corpus import documents
from finetuning import errors
from finetuning import files

FORMATS = ("pubmed", "bioc_xml", "bioc_json", "pubtator", "jsonl", "text")
BOM = b"\xef\xbb\xbf"
# What a damaged file raises while it is read: a truncated or corrupt gzip
# stream, a plain file named .gz, a read error.
DAMAGED = (OSError, EOFError, zlib.error)
_PUBTATOR_LINE = re.compile(r"^[^|\t]+\|[ta]\|")


def open_binary(path):
  """The file's bytes, gunzipped when it ends in .gz."""
  return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


class _Stream(io.RawIOBase):
  """A file's bytes (gunzipped for .gz) that end where the file is damaged
  (a truncated or corrupt gzip stream, a read error) instead of raising:
  `error` then says why, and the reader ends with what it read whole."""

  def __init__(self, path):
    super().__init__()
    self.inner = open_binary(path)
    self.error = None

  def readable(self):
    return True

  def seekable(self):
    return True

  def seek(self, offset, whence=io.SEEK_SET):
    self.error = None
    return self.inner.seek(offset, whence)

  def readinto(self, buffer):
    if self.error is not None:
      return 0
    try:
      return self.inner.readinto(buffer)
    except DAMAGED as e:
      self.error = e
      return 0

  def close(self):
    self.inner.close()
    super().close()




def _lines(f):
  """(line number, text or None, why not) of each line of the open file
  `f` (`read` opens it): UTF-8, a byte-order mark dropped, the line break
  removed. A line that is not UTF-8 comes as (number, None, what is
  wrong) and the others still come; the cut last line of a damaged file
  does not come."""
  for number, raw in enumerate(f, 1):
    if not raw.endswith(b"\n") and f.raw.error is not None:
      return
    if number == 1 and raw.startswith(BOM):
      raw = raw[len(BOM):]
    try:
      text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
      yield number, None, "not UTF-8 text: byte 0x%02x at column %d" % (
          raw[e.start], e.start + 1)
      continue
    yield number, text.rstrip("\r\n"), None


def check_readable(path):
  """Raises UserError when `path` cannot be opened as its name says (a
  plain file named .gz): before anything runs."""
  try:
    with open_binary(path) as f:
      f.read(1)
  except DAMAGED as e:
    raise errors.UserError("--input: %s cannot be read: %s" % (
        path, getattr(e, "strerror", None) or e))


def detect_format(path):
  """The format of `path` from its name and first bytes, or None."""
  name = path[:-3] if path.endswith(".gz") else path
  ext = os.path.splitext(name)[1].lower()
  if ext == ".jsonl":
    return "jsonl"
  if ext in (".pubtator",):
    return "pubtator"
  with open_binary(path) as f:
    head = f.read(4096)
  head = head[len(BOM):] if head.startswith(BOM) else head
  head = head.decode("utf-8", "replace")
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
  """The documents and malformed records of `path` read as `fmt`.

  A file that ends early or cannot be read on (a truncated .gz, a read
  error) ends with a Malformed record that says so: what was read before
  is kept.
  """
  last_id = None
  with io.BufferedReader(_Stream(path)) as f:
    try:
      for record in _READERS[fmt](path, f):
        if f.raw.error is not None and isinstance(record,
                                                  documents.Malformed):
          continue  # what the damage did to the reader: told below
        if isinstance(record, documents.Document):
          last_id = record.id
        yield record
    except DAMAGED as e:
      f.raw.error = e
    if f.raw.error is not None:
      e = f.raw.error
      yield documents.Malformed(path, last_id, "the file cannot be read "
                                "after %s, the rest is not read: %s" % (
                                    "document %s" % last_id if last_id
                                    else "its start",
                                    getattr(e, "strerror", None) or e))


def _text_of(element):
  """An element's text with its inline markup (<i>, <sup>...) dropped."""
  return " ".join("".join(element.itertext()).split())


def read_pubmed(path, f):
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


def _passage_text(passage):
  """A BioC passage's text, or that of its sentences, each at its offset
  (sentence offsets are document offsets, as the passage's), spaces
  between; raises ValueError for sentences that overlap or fall outside."""
  if passage.text or not passage.sentences:
    return passage.text
  text = ""
  for sentence in passage.sentences:
    start = sentence.offset - passage.offset
    if start < len(text) or sentence.text is None:
      raise ValueError(
          "the sentences of the passage at offset %s %s" % (
              passage.offset, "overlap or are out of order"
              if sentence.text is not None else "have no text"))
    text += " " * (start - len(text)) + sentence.text
  return text


def _from_bioc(document):
  passages = [documents.Passage(p.infons.get("type") or "text", p.offset,
                                _passage_text(p), dict(p.infons))
              for p in document.passages]
  return documents.Document(document.id, passages, dict(document.infons))


def _bioc_problem(document):
  if not document.id:
    return "no document id"
  for p in document.passages:
    try:
      text = _passage_text(p)
    except ValueError as e:
      return str(e)
    if text is None:
      return "a passage at offset %s has no text" % p.offset
  return None


def read_bioc_xml(path, f):
  """BioC XML documents, read one at a time with the `bioc` package."""
  from bioc import biocxml  # pylint: disable=g-import-not-at-top
  from lxml import etree  # pylint: disable=g-import-not-at-top
  last_id = None
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


def read_bioc_json(path, f):
  """BioC JSON: a collection, or one BioCDocument a line."""
  from bioc import biocjson  # pylint: disable=g-import-not-at-top
  lines = _json_lines(path, f, "one BioC JSON document a line, or a "
                      "collection")
  head = list(itertools.islice(lines, 2))
  if not head:
    return
  if not any(_is_document(value) for _, value in head):  # a collection
    try:
      f.seek(0)
      text = files.decode_utf8(f.read(), path)
      value = files.parse_json(text, path, "a BioC JSON collection")
      collection = biocjson.decoder.parse_collection(value)
    except errors.InputError as e:
      yield documents.Malformed(path, None, e.message)
      return
    except (ValueError, KeyError, TypeError, AttributeError) as e:
      yield documents.Malformed(path, None, "not a BioC JSON collection: "
                                "%s" % e)
      return
    for document in collection.documents:
      problem = _bioc_problem(document)
      yield (documents.Malformed(path, document.id or None, problem)
             if problem else _from_bioc(document))
    return
  for source, value in itertools.chain(head, lines):
    try:
      if isinstance(value, ValueError):
        raise value
      document = biocjson.fromJSON(value, "BioCDocument")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
      yield documents.Malformed(source, None, "not a BioC JSON document: "
                                "%s" % e)
      continue
    problem = _bioc_problem(document)
    yield (documents.Malformed(source, document.id or None, problem)
           if problem else _from_bioc(document))


def _json_lines(path, f, what="a JSON value a line"):
  """("file:line", the line's JSON value or a ValueError saying why not)
  of each line that is not blank. JSON that no UTF-8 output can hold (half
  a surrogate pair), NaN and keys named twice are refused
  (`files.parse_json`)."""
  for number, line, problem in _lines(f):
    source = "%s:%d" % (path, number)
    if problem:
      yield source, ValueError(problem)
    elif line.strip():
      try:
        value = files.parse_json(line, path, what, line=number)
      except errors.InputError as e:
        value = ValueError(e.message)
      yield source, value


def _is_document(value):
  return isinstance(value, dict) and value.get("bioctype") == "BioCDocument"


def read_pubtator(path, f):
  """PubTator documents: `PMID|t|title` and `PMID|a|abstract` lines, then
  annotation lines, a blank line between documents. The title and abstract
  become two passages (offsets 0 and len(title) + 1), as PubTator counts."""
  record, start, problem = [], None, None
  for number, line, why in _lines(f):
    if why:
      problem = problem or "line %d: %s" % (number, why)
      line = "?"  # the record is reported as a whole
    if not line.strip():
      if record:
        yield _pubtator_record(path, start, record, problem)
      record, problem = [], None
      continue
    if not record:
      start = number
    record.append(line)
  if record:
    yield _pubtator_record(path, start, record, problem)


def _pubtator_record(path, line, lines, problem=None):
  source = "%s:%d" % (path, line)
  if problem:
    first = re.match(r"^([^|\t]+)\|[ta]\|", lines[0])
    return documents.Malformed(source, first.group(1) if first else None,
                               problem)
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


def read_jsonl(path, f):
  """{"id": ..., "text": ...} a line; the id may be a string or a number."""
  for source, value in _json_lines(path, f, '{"id", "text"} a line'):
    if isinstance(value, ValueError):
      yield documents.Malformed(source, None, "%s" % value)
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


def read_text(path, f):
  """One document a line; its id is the line number."""
  for number, line, problem in _lines(f):
    if problem:
      yield documents.Malformed("%s:%d" % (path, number), str(number),
                                problem)
    elif line.strip():
      yield documents.Document(str(number), [
          documents.Passage("text", 0, line)])


_READERS = {"pubmed": read_pubmed, "bioc_xml": read_bioc_xml,
            "bioc_json": read_bioc_json, "pubtator": read_pubtator,
            "jsonl": read_jsonl, "text": read_text}
