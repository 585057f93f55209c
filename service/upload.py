"""An uploaded file's documents, read as tag_corpus.py reads a file.

The service takes a file's bytes, never a path: they are written to a
private temporary file (named after the upload's extension only, so that
the format is detected as tag_corpus.py detects it) and read there with
corpus/readers.py. Records the readers cannot read are skipped and told
back with the upload's name and line, as tag_corpus.py reports them; an
upload with no readable document, or over the limits, is refused.
"""

import dataclasses
import os
import re
import tempfile
from typing import List

from corpus import documents
from corpus import readers
from finetuning import errors

# The extensions an upload's name may lend its temporary file (what
# readers.detect_format looks at); any other name reads by its content.
_EXTENSIONS = (".xml", ".json", ".jsonl", ".pubtator", ".txt")


@dataclasses.dataclass(frozen=True)
class Skipped:
  """A record of an upload that was not read: where and why."""
  where: str
  id: str
  problem: str


class UploadError(Exception):
  """An upload we refuse: its HTTP status and what is wrong."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status, self.message = status, message


def _suffix(filename):
  """The known extension of `filename` (with .gz), or ""."""
  name = os.path.basename(filename or "").lower()
  gz = ".gz" if name.endswith(".gz") else ""
  ext = os.path.splitext(name[:-3] if gz else name)[1]
  return (ext if ext in _EXTENSIONS else "") + gz


def read_upload(body, filename, input_format, max_documents,
                max_characters):
  """([Document], [Skipped]) of an uploaded file's bytes.

  `filename` (the upload's name, for its extension and the messages) and
  `input_format` (one of readers.FORMATS, or "auto": detected as
  tag_corpus.py does) come from the request; UploadError when the format
  is unknown or undetectable, the file holds no document, or it holds
  more documents or characters than allowed.
  """
  name = os.path.basename(filename or "") or "upload"
  if input_format != "auto" and input_format not in readers.FORMATS:
    raise UploadError(422, "input_format=%s: expected auto or one of %s" % (
        input_format, ", ".join(readers.FORMATS)))
  with tempfile.TemporaryDirectory(prefix="serve-upload-") as tmp:
    path = os.path.join(tmp, "upload" + _suffix(filename))
    with open(path, "wb") as f:
      f.write(body)
    try:
      readers.check_readable(path)
      fmt = (readers.detect_format(path) if input_format == "auto"
             else input_format)
    except (errors.UserError,) + readers.DAMAGED:
      raise UploadError(422, "%s cannot be read: not the gzip file its "
                        "name says, or damaged" % name)
    if fmt is None:
      raise UploadError(422, "%s: an XML file that is neither PubMed nor "
                        "BioC; say input_format=" % name)
    docs, skipped, characters = [], [], 0
    for record in readers.read(path, fmt):
      if isinstance(record, documents.Deleted):
        continue
      if isinstance(record, documents.Malformed):
        skipped.append(Skipped(_named(record.source, path, name),
                               record.id or "", record.reason))
        continue
      docs.append(record)
      characters += sum(len(p.text) for p in record.passages)
      if len(docs) > max_documents:
        raise UploadError(413, "%s holds more than the %d documents "
                          "allowed" % (name, max_documents))
      if characters > max_characters:
        raise UploadError(413, "%s holds more than the %d characters of "
                          "text allowed" % (name, max_characters))
  if not docs:
    raise UploadError(422, "%s holds no document that can be read as %s%s"
                      % (name, fmt, "".join(
                          "; %s: %s" % (s.where, s.problem)
                          for s in skipped[:3])))
  return docs, skipped


def _named(where, path, name):
  """A reader's `path:line` with the temporary path replaced by the
  upload's name."""
  return re.sub("^" + re.escape(path), name, where or name)


def skipped_json(skipped: List[Skipped]):
  """The skipped records as the JSON answer lists them."""
  return [dataclasses.asdict(s) for s in skipped]
