"""User-facing errors and atomic file writing."""

import json
import os
import sys
import tempfile


class UserError(Exception):
  """An error in what the user gave us: printed without a traceback, exit 2."""


class InputError(UserError):
  """A problem in an input file, located by file and line."""

  def __init__(self, path, line, message):
    self.path = path
    self.line = line
    self.message = message
    where = path if line is None else "%s:%d" % (path, line)
    super(InputError, self).__init__("%s: %s" % (where, message))


def run_main(main):
  """Wraps an absl `main(argv)` so that a UserError exits 2 with its message."""

  def wrapped(argv):
    try:
      return main(argv)
    except UserError as e:
      sys.stderr.write("error: %s\n" % e)
      sys.stderr.flush()
      sys.exit(2)

  return wrapped


def atomic_write(path, data, mode="w"):
  """Writes `data` to `path` through a temp file and a rename.

  A reader never sees a half-written file, and a crash leaves the old file
  (or none) in place.
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(
      dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
  try:
    encoding = None if "b" in mode else "utf-8"
    with open(fd, mode, encoding=encoding) as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def read_json(path, what):
  """Parses a JSON file (UTF-8, BOM accepted).

  Raises InputError naming `path` (and the line of a syntax error) when it
  is missing or not valid JSON; `what` says what the file was expected to be.
  """
  try:
    with open(path, "r", encoding="utf-8-sig") as f:
      return json.load(f)
  except FileNotFoundError:
    raise InputError(path, None, "file not found (expected %s)" % what)
  except ValueError as e:
    raise InputError(path, getattr(e, "lineno", None),
                     "not valid JSON: %s" % e)


def read_text_lines(path, what, allow_empty=False):
  """Reads a UTF-8 text file (BOM and CRLF accepted) into a list of lines.

  Raises InputError naming `path` when it is missing, unreadable or (unless
  `allow_empty`, which returns []) empty; `what` says what the file was
  expected to be.
  """
  if not os.path.isfile(path):
    raise InputError(path, None, "file not found (expected %s)" % what)
  try:
    with open(path, "r", encoding="utf-8-sig", newline=None) as f:
      lines = [line.rstrip("\n").rstrip("\r") for line in f]
  except UnicodeDecodeError as e:
    raise InputError(path, None, "not UTF-8 text (%s)" % e)
  if not any(line.strip() for line in lines):
    if allow_empty:
      return []
    raise InputError(path, None, "file is empty (expected %s)" % what)
  return lines
