"""A finished run's kept checkpoint without the optimizer's slots.

    python -m suite_runner.slim_checkpoint RUN_DIR/model.ckpt-N [...]

Adam's two moments (`<variable>/adam_m`, `<variable>/adam_v`) make two
thirds of a fine-tuned checkpoint and serve only to go on training.
Prediction, export and tagging read the model's variables (and
`global_step`) alone, so a suite keeps its finished runs without them:
BERT-base's 1.3 GB becomes about 0.44 GB a run. The checkpoint is
rewritten beside itself and moved into place file by file; its `.meta`
graph, which names the slots, is removed.
"""

import os
import shutil
import sys
import tempfile

SLOTS = ("/adam_m", "/adam_v")


def slim(prefix):
  """Rewrites checkpoint `prefix` without its optimizer slots; returns
  whether it had any."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  tf.disable_v2_behavior()
  reader = tf.train.load_checkpoint(prefix)
  names = sorted(reader.get_variable_to_shape_map())
  kept = [n for n in names if not n.endswith(SLOTS)]
  if len(kept) == len(names):
    return False
  folder = os.path.dirname(os.path.abspath(prefix))
  staging = tempfile.mkdtemp(prefix=".slim-", dir=folder)
  try:
    with tf.Graph().as_default(), tf.Session() as session:
      variables = [tf.Variable(reader.get_tensor(n), name=n) for n in kept]
      session.run(tf.variables_initializer(variables))
      tf.train.Saver(variables).save(
          session, os.path.join(staging, os.path.basename(prefix)),
          write_meta_graph=False, write_state=False)
    base = os.path.basename(prefix)
    # The data first, then the index that describes it: a reader in
    # between sees the old index over the new data and refuses it.
    for name in sorted(os.listdir(staging), key=lambda n: n.endswith(
        ".index")):
      os.replace(os.path.join(staging, name), os.path.join(folder, name))
    meta = os.path.join(folder, base + ".meta")
    if os.path.exists(meta):
      os.remove(meta)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return True


def main(argv):
  for path in argv:
    slim(path)
  return 0


if __name__ == "__main__":
  from finetuning import errors  # pylint: disable=g-import-not-at-top
  # A full disk: one line (run_suite.py stops on it), exit 1.
  sys.exit(errors.run_main(main, "run the same command again")(sys.argv[1:]))
