"""finetuning.progress: rates, elapsed time and ETA in the log."""

import tensorflow.compat.v1 as tf

from finetuning import progress


def test_format_duration():
  assert progress.format_duration(0) == "0:00:00"
  assert progress.format_duration(3725.4) == "1:02:05"
  assert progress.format_duration(-5) == "0:00:00"


def test_progress_hook_logs_every_n_steps_and_the_last():
  logged = []
  hook = progress.ProgressHook(total_steps=60, batch_size=4, every_n_steps=2,
                               log_fn=logged.append)
  with tf.Graph().as_default():
    step = tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(step.assign(1))
      hook.after_create_session(sess, None)
      for _ in range(4):
        hook.after_run(None, None)
  assert hook.start_step == 1
  assert logged[0] == "Resuming training at step 1 of 60"
  assert [m.split(",")[0] for m in logged[1:]] == [
      "step 3/60 (5.0%)", "step 5/60 (8.3%)"]
  assert "examples/s, elapsed 0:00:00, ETA" in logged[-1]
  assert len(hook.rates) == 2


def test_a_line_every_5_percent_unless_asked_more_often():
  assert progress.interval(37, 100) == 2  # a short run: ceil(1.85)
  assert progress.interval(10000, 100) == 100  # --log_every_n_steps
  assert progress.interval(10000, 1000) == 500
  assert progress.interval(3, 100) == 1


def test_timed_passes_results_through():
  assert list(progress.timed(iter([1, 2, 3]), batch_size=2)) == [1, 2, 3]
