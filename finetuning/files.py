"""Reading the user's text and JSON files with located errors; atomic writes."""

import contextlib
import hashlib
import json
import os
import re
import tempfile

from finetuning import errors


def umask():
  """The process's umask (read without changing it for long)."""
  mask = os.umask(0)
  os.umask(mask)
  return mask


def atomic_write(path, data, mode="w"):
  """Writes `data` to `path` through a temp file and a rename.

  A reader never sees a half-written file, and a crash leaves the old file
  (or none) in place. The file gets the permissions an ordinary `open`
  would give it (0666 less the umask).
  """
  with atomic_file(path, mode) as f:
    f.write(data)


@contextlib.contextmanager
def atomic_file(path, mode="w"):
  """A file to write `path` with, piece by piece: `atomic_write`'s temp
  file, renamed to `path` when the block ends without an exception."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(
      dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
  try:
    os.chmod(tmp, 0o666 & ~umask())
    encoding = None if "b" in mode else "utf-8"
    try:
      with open(fd, mode, encoding=encoding) as f:
        yield f
    except OSError as e:  # a full disk: name the file being written
      if e.filename is None:
        raise OSError(e.errno, e.strerror, path) from e
      raise
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def _nearest_existing(path):
  path = os.path.abspath(path)
  while not os.path.exists(path):
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return path


def directory_problem(path, create=False):
  """Why `path` cannot be a directory this process writes in, or None.

  Without `create`, nothing is written: the nearest existing folder on the
  way must be a writable directory. With `create`, the directory is made
  (when missing) and a temporary file tried in it, which also finds
  read-only file systems.
  """
  existing = _nearest_existing(path)
  if not os.path.isdir(existing):
    return "a directory (%s is a file)" % existing
  if not os.access(existing, os.W_OK | os.X_OK):
    return "a directory you can write in (%s is not writable)" % existing
  if create:
    try:
      os.makedirs(path, exist_ok=True)
      with tempfile.TemporaryFile(dir=path):
        pass
    except OSError as e:
      return "a directory you can write in (%s: %s)" % (
          e.filename or path, e.strerror or e)
  return None


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


# Outside JSON strings: NaN, Infinity, -Infinity (Python's json reads them).
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')
# A \u escape of half a UTF-16 surrogate pair without its other half.
_LONE_SURROGATE = re.compile(
    r"(?<!\\)\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|"
    r"(?<!\\u[dD][89abAB][0-9a-fA-F]{2})(?<!\\)\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_RAW_SURROGATE = re.compile("[\ud800-\udfff]")


class _DuplicateKey(ValueError):
  pass


def _no_duplicate_keys(pairs):
  seen = {}
  for key, value in pairs:
    if key in seen:
      raise _DuplicateKey(key)
    seen[key] = value
  return seen


def _line_of(text, offset):
  return text.count("\n", 0, offset) + 1


def _key_line(text, key):
  """The line of the second `"key":` in `text` (where a duplicate stands)."""
  pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
  found = list(pattern.finditer(text))
  if len(found) < 2:
    pattern = re.compile(re.escape(json.dumps(key, ensure_ascii=False)) +
                         r"\s*:")
    found = list(pattern.finditer(text))
  return _line_of(text, found[1].start()) if len(found) >= 2 else None


def parse_json(text, path, what, line=None):
  """Parses JSON text strictly; errors name `path` and the line.

  Beyond Python's json: NaN and Infinity (not JSON), an object with the
  same key twice (json keeps the last one silently) and half a UTF-16
  surrogate pair (a string no UTF-8 file can hold) are refused.

  Args:
    line: the line of `path` that `text` is (JSON Lines), or None when
      `text` is the whole file.
  """
  def where(offset):
    return line if line is not None else _line_of(text, offset)

  lone = _LONE_SURROGATE.search(text) or _RAW_SURROGATE.search(text)
  if lone:
    raise errors.InputError(
        path, where(lone.start()), "%s is half a UTF-16 surrogate pair, not "
        "a character (expected %s)" % (lone.group().encode(
            "ascii", "backslashreplace").decode("ascii"), what))
  try:
    return json.loads(text, object_pairs_hook=_no_duplicate_keys,
                      parse_constant=_refuse_constant)
  except _DuplicateKey as e:
    key = e.args[0]
    raise errors.InputError(
        path, line if line is not None else _key_line(text, key),
        "key %s appears twice in one object (expected %s)" %
        (json.dumps(key), what))
  except _NotFinite:
    for m in _JSON_TOKENS.finditer(text):
      if m.group(1):
        raise errors.InputError(
            path, where(m.start(1)), "%s is not a finite number (expected %s)"
            % (m.group(1), what))
    raise errors.InputError(path, line, "a number is not finite")
  except ValueError as e:
    raise errors.InputError(
        path, line if line is not None else getattr(e, "lineno", None),
        "not valid JSON (expected %s): %s" % (what, e))


class _NotFinite(ValueError):
  pass


def _refuse_constant(name):
  raise _NotFinite(name)


def line_of_value(path, key, value, nth):
  """The line of the `nth` (1-based) `"key": value` in the JSON file `path`,
  or None: to place an error about a value `parse_json` already read."""
  try:
    text = read_text(path, "JSON")
  except errors.UserError:
    return None
  pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:\s*" +
                       re.escape(json.dumps(value)))
  found = list(pattern.finditer(text))
  if len(found) < nth:
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:\s*" +
                         re.escape(json.dumps(value, ensure_ascii=False)))
    found = list(pattern.finditer(text))
  return _line_of(text, found[nth - 1].start()) if len(found) >= nth else None


def read_json(path, what):
  """Parses a JSON file (UTF-8, BOM accepted) with `parse_json`.

  Raises InputError naming `path` (and the line of the problem) when it is
  missing, a directory or not valid JSON; `what` says what the file was
  expected to be.
  """
  return parse_json(read_text(path, what), path, what)


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


def toml_key_lines(text):
  """{(table..., key): line} and {(table...,): line} of a TOML text."""
  lines, table = {}, ()
  for number, line in enumerate(text.splitlines(), 1):
    header = re.match(r"\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
    if header:
      table = tuple(p.strip().strip('"') for p in
                    re.findall(r'"[^"]*"|[^.]+', header.group(1)))
      for n in range(1, len(table) + 1):  # [a.b] also places a
        lines.setdefault(table[:n], number)
      continue
    key = re.match(r'\s*("[^"]*"|[A-Za-z0-9_-]+)\s*=', line)
    if key:
      lines.setdefault(table + (key.group(1).strip('"'),), number)
  return lines


def read_toml(path, flag=None):
  """(parsed TOML, {(table..., key): line}) of `path`; a UserError with
  the file and line (or the flag that named the file) if it cannot be
  read."""
  import tomllib  # pylint: disable=g-import-not-at-top
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise errors.UserError("%s: %s" % ("--%s=%s" % (flag, path) if flag
                                       else path, e.strerror))
  try:
    text = data.decode("utf-8")
    text = text[1:] if text.startswith("\ufeff") else text  # a BOM
    parsed = tomllib.loads(text)
  except UnicodeDecodeError:
    raise errors.UserError("%s: not UTF-8 text" % path)
  except tomllib.TOMLDecodeError as e:
    where = re.search(r"\(at line (\d+), column \d+\)", str(e))
    line = where.group(1) if where else max(len(text.splitlines()), 1)
    message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)",
                     "", str(e))
    raise errors.UserError("%s:%s: not valid TOML: %s" % (path, line,
                                                         message))
  return parsed, toml_key_lines(text)
