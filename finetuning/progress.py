"""Progress of training and prediction for the user: rate, elapsed, ETA.

On a terminal, a progress bar (tqdm); otherwise (a log file, a batch job)
a line about every 5 % of the run.
"""

import datetime
import math
import sys
import time

import tensorflow.compat.v1 as tf

from finetuning import console

SHARE = 0.05  # a progress line about every 5 % of the steps


def interval(total_steps, every_n_steps):
  """Steps between progress lines: --log_every_n_steps, or 5 % of the run
  when that is more often (a short run shows its progress too)."""
  return max(1, min(every_n_steps, math.ceil(total_steps * SHARE)))


def format_duration(seconds):
  """H:MM:SS of a number of seconds."""
  return str(datetime.timedelta(seconds=int(round(max(0.0, seconds)))))


class ProgressHook(tf.train.SessionRunHook):
  """Logs step, examples/s and an ETA every `every_n_steps` training steps.

  With gradient accumulation a step is `runs_per_step` session runs, and
  `batch_size` the examples of the whole step.

  The rate is that of the last interval (the first one includes graph
  start-up), and the ETA follows from it.
  """

  def __init__(self, total_steps, batch_size, every_n_steps=100,
               log_fn=None, runs_per_step=1, bar=None):
    self._runs_per_step = max(1, runs_per_step)
    self._runs = 0
    self._total = total_steps
    self._batch_size = batch_size
    self._every = interval(total_steps, every_n_steps)
    self._log = log_fn or console.say
    # A bar when stderr is a terminal (and nobody collects the lines).
    self._use_bar = (log_fn is None and sys.stderr.isatty()) if (
        bar is None) else bar
    self._bar = None
    self.start_step = None
    self.last_message = None
    self.rates = []

  def after_create_session(self, session, coord):
    del coord
    self.start_step = int(session.run(tf.train.get_global_step()))
    self._step = self.start_step
    self._t0 = self._t_last = time.time()
    self._done = self._done_last = 0
    if self.start_step:
      self._log("Resuming training at step %d of %d" %
                (self.start_step, self._total))
    if self._use_bar:
      import tqdm  # pylint: disable=g-import-not-at-top
      self._bar = tqdm.tqdm(total=self._total, initial=self.start_step,
                            unit="step", desc="training", file=sys.stderr,
                            dynamic_ncols=True)

  def after_run(self, run_context, run_values):
    del run_context, run_values
    self._runs += 1
    if self._runs % self._runs_per_step:
      return  # a micro-batch of an accumulated step
    self._step += 1
    self._done += 1
    if self._bar is not None:
      self._bar.update(1)
    if self._done % self._every == 0 or self._step >= self._total:
      now = time.time()
      steps = self._done - self._done_last
      rate = steps * self._batch_size / max(now - self._t_last, 1e-9)
      self.rates.append(rate)
      eta = (self._total - self._step) * self._batch_size / max(rate, 1e-9)
      self.last_message = (
          "step %d/%d (%.1f%%), %.1f examples/s, elapsed %s, ETA %s" %
          (self._step, self._total, 100.0 * self._step / self._total, rate,
           format_duration(now - self._t0), format_duration(eta)))
      if self._bar is not None:
        self._bar.set_postfix_str("%.1f examples/s" % rate)
        tf.logging.info(self.last_message)  # the log file keeps the lines
      else:
        self._log(self.last_message)
      self._t_last, self._done_last = now, self._done

  def end(self, session):
    del session
    if self._bar is not None:
      self._bar.close()
    if not self._done:
      return
    seconds = time.time() - self._t0
    self._log("Trained %d steps (%d examples) in %.2f s: %.2f examples/s" %
              (self._done, self._done * self._batch_size, seconds,
               self._done * self._batch_size / max(seconds, 1e-9)))


def timed_list(compute, n):
  """`compute()` (a list of `n` results), its rate logged."""
  start = time.time()
  results = compute()
  seconds = time.time() - start
  console.say("Predicted %d examples in %.1f s (%.1f examples/s)" %
              (n, seconds, n / max(seconds, 1e-9)))
  return results


def timed(results, batch_size):
  """Passes `results` through; logs the start-up time and the steady rate."""
  start = time.time()
  first = None
  n = 0
  for result in results:
    if first is None:
      first = time.time()  # graph built, checkpoint restored, batch 1 done
    n += 1
    yield result
  end = time.time()
  steady = max(n - batch_size, 0)
  tf.logging.info(
      "Predicted %d examples in %.1f s; after the first batch (%.1f s of "
      "start-up): %.2f examples/s", n, end - start, (first or end) - start,
      steady / max(end - (first or end), 1e-9))
