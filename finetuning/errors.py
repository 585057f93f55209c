"""User-facing errors: what the user gave us was wrong, and where."""

import sys


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


def run_main(main):
  """Wraps an absl `main(argv)`: a UserError exits 2 with one `error:` line.

  Ctrl-C exits 130 with one line instead of a traceback.
  """

  def wrapped(argv):
    try:
      return main(argv)
    except UserError as e:
      sys.stderr.write("error: %s\n" % e)
      sys.stderr.flush()
      sys.exit(2)
    except KeyboardInterrupt:
      sys.stderr.write("interrupted: stopped by Ctrl-C; run the same command "
                       "again to resume from the last checkpoint\n")
      sys.stderr.flush()
      sys.exit(130)

  return wrapped
