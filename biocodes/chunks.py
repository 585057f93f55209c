"""Chunks (entities) of a tag sequence, by the rules of the CoNLL conlleval.

Tags are `B-Type`, `I-Type`, `E-Type`, `O` and the like (plain `B`, `I`, `O`
have no type). The rules are those of the 2004 conlleval script, including
its quirks: the type is everything after the first hyphen, and a type that
is exactly "0" counts as no type (Perl treats the string "0" as false).
"""


def split_tag(tag):
  """("B", "Gene") for "B-Gene"; (tag, "") for a tag without a hyphen."""
  prefix, hyphen, typ = tag.partition("-")
  if not hyphen:
    return tag, ""
  return prefix, ("" if typ == "0" else typ)


_ENDS = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"),
         ("E", "I"), ("E", "O")}
_STARTS = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"),
           ("E", "I"), ("O", "E")}


def chunk_ends(prev_tag, tag, prev_type, typ):
  """Whether a chunk ended between the previous position and this one."""
  return ((prev_tag, tag) in _ENDS or
          (prev_tag not in ("O", ".") and prev_type != typ) or
          prev_tag in ("[", "]"))


def chunk_starts(prev_tag, tag, prev_type, typ):
  """Whether a chunk starts at this position."""
  return ((prev_tag, tag) in _STARTS or
          (tag not in ("O", ".") and prev_type != typ) or tag in ("[", "]"))


def chunks(tags):
  """The chunks of one sentence's tags.

  Returns:
    A list of (type, start, end): positions start..end-1 form a chunk of
    `type` ("" for untyped tags).
  """
  found = []
  open_start = None
  prev, prev_type = "O", ""
  for i, full in enumerate(tags):
    tag, typ = split_tag(full)
    ends = open_start is not None and chunk_ends(prev, tag, prev_type, typ)
    starts = chunk_starts(prev, tag, prev_type, typ)
    if open_start is not None and (ends or starts):
      found.append((prev_type, open_start, i))
      open_start = None
    if starts:
      open_start = i
    prev, prev_type = tag, typ
  if open_start is not None:  # the sentence's end closes every chunk
    found.append((prev_type, open_start, len(tags)))
  return found
