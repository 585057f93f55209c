"""Reading the user's text and JSON files with located errors; atomic writes."""

import hashlib
import json
import os
import tempfile

from finetuning import errors


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def atomic_write(path, data, mode="w"):
  """Writes `data` to `path` through a temp file and a rename.

  A reader never sees a half-written file, and a crash leaves the old file
  (or none) in place. The file gets the permissions an ordinary `open`
  would give it (0666 less the umask).
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(
      dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
  try:
    os.chmod(tmp, 0o666 & ~_umask())
    encoding = None if "b" in mode else "utf-8"
    with open(fd, mode, encoding=encoding) as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def file_digest(path):
  """SHA-256 (hex) of a file's bytes."""
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def _check_is_file(path, what):
  if os.path.isdir(path):
    raise errors.InputError(path, None, "is a directory (expected %s)" % what)
  if not os.path.isfile(path):
    raise errors.InputError(path, None, "file not found (expected %s)" % what)


def decode_utf8(data, path):
  """`data` (bytes) as text; a bad byte is reported as file:line:column."""
  try:
    text = data.decode("utf-8")
  except UnicodeDecodeError as e:
    line = data.count(b"\n", 0, e.start) + 1
    column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
    raise errors.InputError(
        path, line, "not UTF-8 text: byte 0x%02x at column %d" %
        (data[e.start], column))
  return text[1:] if text.startswith("\ufeff") else text


def read_text(path, what):
  """The whole of a UTF-8 text file (a BOM is dropped)."""
  _check_is_file(path, what)
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise errors.InputError(path, None, "cannot be read: %s" % e.strerror)
  return decode_utf8(data, path)


def read_json(path, what):
  """Parses a JSON file (UTF-8, BOM accepted).

  Raises InputError naming `path` (and the line of a syntax error) when it
  is missing, a directory or not valid JSON; `what` says what the file was
  expected to be.
  """
  text = read_text(path, what)
  try:
    return json.loads(text)
  except ValueError as e:
    raise errors.InputError(path, getattr(e, "lineno", None),
                            "not valid JSON (expected %s): %s" % (what, e))


def read_text_lines(path, what, allow_empty=False):
  """Reads a UTF-8 text file (BOM and CRLF accepted) into a list of lines.

  Raises InputError naming `path` when it is missing, unreadable, not UTF-8
  (with the line) or (unless `allow_empty`, which returns []) empty; `what`
  says what the file was expected to be.
  """
  text = read_text(path, what)
  lines = text.split("\n")
  if lines and lines[-1] == "":
    lines.pop()
  lines = [line[:-1] if line.endswith("\r") else line for line in lines]
  if not any(line.strip() for line in lines):
    if allow_empty:
      return []
    raise errors.InputError(path, None, "file is empty (expected %s)" % what)
  return lines
