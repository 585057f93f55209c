"""The text of a mention as a normalizer compares it with a lexicon's names.

BioSyn's preprocessing (Sung et al., ACL 2020): lower case, an optional
spelling list (BioSyn's `ncbi-spell-check.txt`, `wrong||right` lines), and
every run of punctuation and white space made one space. Before that, a
mention's abbreviations are expanded with the definitions its own document
gives (Schwartz & Hearst 2003, by the `abbreviations` package): "APC" in a
document that writes "adenomatous polyposis coli (APC)" becomes that. A
composite mention ("breast and ovarian cancer", two gold IDs) is split into
its parts where a coordination can be read ("breast cancer", "ovarian
cancer").
"""

import functools
import logging
import re
import string

from finetuning import errors
from finetuning import files

_PUNCTUATION = re.compile(r"[\s%s]+" % re.escape(string.punctuation))


def read_spelling(path):
  """{wrong: right} of a spelling list (`wrong||right` lines); InputError
  with file:line for another line."""
  fixes = {}
  for number, line in enumerate(files.read_text_lines(
      path, "a spelling list: wrong||right lines"), 1):
    if not line.strip():
      continue
    wrong, sep, right = line.partition("||")
    if not sep or not wrong.strip() or not right.strip():
      raise errors.InputError(path, number, "expected wrong||right, found %r"
                              % line[:80])
    fixes[wrong.strip().lower()] = right.strip().lower()
  return fixes


def preprocess(text, spelling=None):
  """BioSyn's form of a name: lower case, spelling fixed word by word,
  punctuation and white space runs made one space, stripped."""
  text = text.lower()
  if spelling:
    text = " ".join(spelling.get(w, w) for w in text.split(" "))
  return _PUNCTUATION.sub(" ", text).strip()


def abbreviations(document_text):
  """{short form: long form} that a document defines ("long (SHORT)"), the
  first definition of each."""
  if not document_text.strip():
    return {}
  return _schwartz_hearst().extract_abbreviation_definition_pairs(
      doc_text=document_text, first_definition=True)


@functools.lru_cache(maxsize=None)
def _schwartz_hearst():
  """The `abbreviations` package's module, imported without what its
  import does to logging (a root handler at INFO level: every library's
  log lines on the console)."""
  root = logging.getLogger()
  handlers, level = list(root.handlers), root.level
  from abbreviations import schwartz_hearst  # pylint: disable=g-import-not-at-top
  for handler in root.handlers[:]:
    if handler not in handlers:
      root.removeHandler(handler)
  root.setLevel(level)
  return schwartz_hearst


def expand(mention, definitions):
  """`mention` with each whole-word short form of `definitions` replaced
  by its long form (the mention itself when it is one), unless the mention
  writes the long form too ("adenomatous polyposis coli (APC)")."""
  if not definitions:
    return mention
  for short in sorted(definitions, key=len, reverse=True):
    if short in mention and definitions[short] not in mention:
      mention = re.sub(r"(?<!\w)%s(?!\w)" % re.escape(short),
                       lambda _, s=short: definitions[s], mention)
  return mention


_COORDINATION = re.compile(r"\s*,?\s+(?:and/or|and|or)\s+|\s*,\s*|\s*/\s*")


def split_composite(mention, parts):
  """The `parts` mentions a composite mention coordinates, or None.

  "breast and ovarian cancer" (2) -> ["breast cancer", "ovarian cancer"]:
  the coordinated words are split at `and`, `or`, commas and slashes, and
  each part shorter than the last gets the last part's head (its words
  after the first). None when the mention does not split into `parts`.
  """
  pieces = [p for p in _COORDINATION.split(mention.strip()) if p]
  if len(pieces) != parts or parts < 2:
    return None
  last = pieces[-1].split()
  head = last[1:]
  out = []
  for piece in pieces[:-1]:
    words = piece.split()
    out.append(" ".join(words + head) if len(words) < len(last) else piece)
  return out + [pieces[-1]]
