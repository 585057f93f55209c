"""The console is for people; TensorFlow's log goes to a file.

A run prints what a user needs: what is read, progress, where outputs go,
the scores. TensorFlow's INFO records (the variable listing, the
Estimator's configuration, checkpoint saves) go to `<output_dir>/run.log`
beside everything the console shows; its warnings stay on the console.
`--verbosity=0` (absl's flag) puts the INFO records on the console too.
"""

import logging
import os
import sys

import tensorflow.compat.v1 as tf

LOG_NAME = "run.log"

_USER = logging.getLogger("biobert")
_FILE_FORMAT = logging.Formatter("%(asctime)s %(name)s %(levelname)s "
                                 "%(message)s")


class _ConsoleFormatter(logging.Formatter):
  """`tensorflow warning: ...` for TensorFlow's records."""

  def format(self, record):
    return "tensorflow %s: %s" % (record.levelname.lower(),
                                  record.getMessage())


class _Stdout(logging.StreamHandler):
  """Writes to whatever sys.stdout is at the time (tests replace it)."""

  def __init__(self):
    super(_Stdout, self).__init__()
    self.setFormatter(logging.Formatter("%(message)s"))

  @property
  def stream(self):
    return sys.stdout

  @stream.setter
  def stream(self, value):
    del value


def _console_handlers(logger):
  return [h for h in logger.handlers if not isinstance(h, logging.FileHandler)]


def no_deprecation_notices():
  """TensorFlow 2.15 marks tf.estimator, its hooks, `disable_v2_behavior`
  and the TF1 SavedModel builder deprecated ("Use tf.keras instead"): about
  fifteen notices a run, about APIs this project uses on purpose."""
  from tensorflow.python.util import deprecation
  deprecation._PRINT_DEPRECATION_WARNINGS = False  # pylint: disable=protected-access


def setup(verbose=False):
  """TensorFlow's records at INFO to the log file, WARNING up (INFO up when
  `verbose`) to stderr; our lines to stdout."""
  tf_logger = tf.get_logger()
  tf_logger.setLevel(logging.INFO)
  tf_logger.propagate = False  # absl's root handler would print them again
  for handler in _console_handlers(tf_logger):
    tf_logger.removeHandler(handler)
  console = logging.StreamHandler(sys.stderr)
  console.setLevel(logging.INFO if verbose else logging.WARNING)
  console.setFormatter(_ConsoleFormatter())
  tf_logger.addHandler(console)
  _user_console()


def _user_console():
  _USER.setLevel(logging.INFO)
  _USER.propagate = False
  if not _console_handlers(_USER):
    _USER.addHandler(_Stdout())


class _LogFile(logging.FileHandler):
  """run.log. A record that cannot be written (a full disk) is dropped
  without logging's traceback on the console: the run's next write of
  its own outputs fails too, and that failure is told in one line."""

  def handleError(self, record):
    del record


def log_to(output_dir):
  """From now on every record also goes to `<output_dir>`/run.log (appended:
  a resumed run continues it). Returns its path."""
  path = os.path.join(output_dir, LOG_NAME)
  for logger in (tf.get_logger(), _USER):
    for handler in list(logger.handlers):
      if isinstance(handler, logging.FileHandler):
        if handler.baseFilename == os.path.abspath(path):
          return path
        logger.removeHandler(handler)
        handler.close()
  handler = _LogFile(path, mode="a", encoding="utf-8")
  handler.setLevel(logging.INFO)
  handler.setFormatter(_FILE_FORMAT)
  for logger in (tf.get_logger(), _USER):
    logger.addHandler(handler)
  return path


def say(message, *args):
  """A line for the user: stdout, and run.log once a run writes one."""
  _user_console()
  _USER.info(message, *args)
