"""User-facing errors: what the user gave us was wrong, and where."""

import errno
import re
import sys

RESUME_HINT = ("run the same command again: training resumes from the last "
               "checkpoint")


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


class FlagError(UserError):
  """A flag value that cannot work, named by its flag."""

  def __init__(self, flag, value, expected):
    self.flag = flag
    super(FlagError, self).__init__("--%s=%s: expected %s" %
                                    (flag, value, expected))


def warn(message):
  """One `warning:` line for the user on stderr (not a log record)."""
  sys.stderr.write("warning: %s\n" % message)
  sys.stderr.flush()


def environment_message(e, resume_hint=RESUME_HINT):
  """One line for a failure of the machine rather than of the input, or None.

  Disk full (from Python or from TensorFlow writing a checkpoint) and other
  OS errors (permissions...) are told in one line; anything else is a bug.
  `resume_hint` says how to go on once there is space.
  """
  # Python's OSError, or a library's own error that carries the system's
  # message (TensorFlow writing a checkpoint, safetensors).
  disk_full = (isinstance(e, OSError) and e.errno == errno.ENOSPC) or (
      "No space left on device" in str(e))
  if disk_full:
    where = getattr(e, "filename", None)
    if not where:  # TensorFlow names the file in its message
      named = re.search(r"(/[^\s;:'\"]+)[;:] No space left on device",
                        str(e))
      # A checkpoint is written as <prefix>_temp/part-...: name the prefix.
      where = re.sub(r"_temp/[^/]*$", "", named.group(1)) if named else None
    return ("no space left on device%s: free some space, then %s" %
            (" (writing %s)" % where if where else "", resume_hint))
  if isinstance(e, OSError):
    where = " %s" % e.filename if e.filename else ""
    return "cannot use%s: %s" % (where, e.strerror or e)
  return None


def run_main(main, resume_hint=RESUME_HINT):
  """Wraps a `main(argv)`: one `error:` line instead of a traceback.

  A UserError exits 2 (nothing was written); a full disk or another OS
  error exits 1; Ctrl-C exits 130, saying how to resume (`resume_hint`).
  """

  def fail(message, code):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    sys.exit(code)

  def wrapped(argv):
    try:
      return main(argv)
    except UserError as e:
      fail("error: %s" % e, 2)
    except KeyboardInterrupt:
      fail("interrupted: stopped by Ctrl-C; " + resume_hint, 130)
    except Exception as e:  # pylint: disable=broad-except
      message = environment_message(e, resume_hint)
      if message is None:
        raise
      fail("error: " + message, 1)

  return wrapped
