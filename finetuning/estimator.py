"""The Estimator: BERT encoder + a task's head, checkpoint restore, optimizer.

A task supplies a *head*: a function `head_fn(model, features, is_training)`
returning a `HeadOutput`. The BERT encoder, restoring `--init_checkpoint`,
the optimizer and the Estimator itself are built here.
"""

import collections
import contextlib

import tensorflow.compat.v1 as tf

import modeling
import numerics as numerics_lib
import optimization
from finetuning import devices
from finetuning import errors
from finetuning import packing

HeadOutput = collections.namedtuple(
    "HeadOutput", ["loss", "predictions", "loss_is_sum", "training_hooks"],
    defaults=[False, ()])
HeadOutput.__doc__ = """What a task head returns.

loss: scalar float Tensor (used in training), or None when the features
  carry no labels.
predictions: dict of Tensors for PREDICT mode.
loss_is_sum: the loss adds up over the batch's examples rather than
  averaging them (matters for gradient accumulation).
training_hooks: SessionRunHooks the head needs while training (the
  normalizer refreshes its lexicon's embeddings with one).
"""


def train_steps(num_examples, batch_size, num_train_epochs, warmup_proportion,
                replicas=1, accumulation=1):
  """(num_train_steps, num_warmup_steps) as the original computed them.

  With several replicas each step consumes `batch_size` examples per
  replica, and with gradient accumulation `accumulation` micro-batches, so
  there are that many times fewer steps (updates) for the same epochs.
  """
  num_train_steps = int(num_examples / (batch_size * replicas * accumulation)
                        * num_train_epochs)
  if num_train_steps < 1:
    per_step = batch_size * replicas * accumulation
    raise errors.UserError(
        "%d training examples at --train_batch_size=%d%s and "
        "--num_train_epochs=%g make no training step: a step takes %d "
        "examples; raise --num_train_epochs or lower %s" %
        (num_examples, batch_size,
         ", --gradient_accumulation_steps=%d" % accumulation
         if accumulation > 1 else "", num_train_epochs, per_step,
         "--gradient_accumulation_steps" if accumulation > 1 else
         "--train_batch_size"))
  num_warmup_steps = int(num_train_steps * warmup_proportion)
  return num_train_steps, num_warmup_steps


def restore_from_checkpoint(init_checkpoint):
  """Initialises the graph's trainable variables from `init_checkpoint`.

  Logs every variable, marking the restored ones `*INIT_FROM_CKPT*` as the
  original did, and warns about BERT variables the checkpoint lacks.

  Returns:
    The sorted names of the restored variables.
  """
  tvars = tf.trainable_variables()
  initialized = {}
  if init_checkpoint:
    (assignment_map, initialized) = (
        modeling.get_assignment_map_from_checkpoint(tvars, init_checkpoint))
    tf.train.init_from_checkpoint(init_checkpoint, assignment_map)

  tf.logging.info("**** Trainable Variables ****")
  missing = []
  for var in tvars:
    init_string = ""
    if var.name in initialized:
      init_string = ", *INIT_FROM_CKPT*"
    elif init_checkpoint and var.name.startswith("bert/"):
      missing.append(var.name)
    tf.logging.info("  name = %s, shape = %s%s", var.name, var.shape,
                    init_string)
  restored = sorted(n for n in initialized if not n.endswith(":0"))
  if init_checkpoint:
    tf.logging.info("Restored %d of %d trainable variables from %s",
                    len(restored), len(tvars), init_checkpoint)
  if missing:
    tf.logging.warning(
        "%d BERT variables are not in %s and start at random: %s",
        len(missing), init_checkpoint, ", ".join(missing))
  return restored


def model_fn_builder(bert_config, head_fn, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps,
                     use_one_hot_embeddings=False, loss_scale=None,
                     use_xla=False, seed=None, gradient_accumulation_steps=1,
                     precision=None):
  """Returns an Estimator `model_fn`: BERT encoder + the task's head.

  Features must hold `input_ids`, `input_mask` and `segment_ids`, plus what
  the head reads. The graph's numerics (`numerics.Numerics.of`) follow
  from `precision` ("bfloat16": the encoder computes in bfloat16) and the
  mode; with a `seed`, training dropout is keyed to the step, so that a
  resumed run is exact.
  """

  def model_fn(features, labels, mode):  # no params: none are passed
    del labels
    tf.logging.info("*** Features ***")
    for name in sorted(features.keys()):
      tf.logging.info("  name = %s, shape = %s", name, features[name].shape)

    is_training = (mode == tf.estimator.ModeKeys.TRAIN)
    xla_scope = (tf.xla.experimental.jit_scope() if use_xla else
                 contextlib.nullcontext())
    numerics = numerics_lib.Numerics.of(
        precision, is_training, seed,
        tf.train.get_or_create_global_step()
        if is_training and seed is not None else None)
    # Packed rows (finetuning/packing.py): positions restart per example,
    # and each example attends to itself only.
    packed = packing.POSITION_IDS in features
    with xla_scope, numerics.scope():
      model = modeling.BertModel(
          config=bert_config,
          is_training=is_training,
          input_ids=features["input_ids"],
          input_mask=features["input_mask"],
          token_type_ids=features["segment_ids"],
          use_one_hot_embeddings=use_one_hot_embeddings,
          position_ids=features.get(packing.POSITION_IDS),
          attention_mask=(modeling.create_attention_mask_from_example_ids(
              features["input_mask"]) if packed else None),
          numerics=numerics)
      head = head_fn(model, features, is_training)
    restore_from_checkpoint(init_checkpoint)

    if mode == tf.estimator.ModeKeys.TRAIN:
      train_op = optimization.create_optimizer(
          head.loss, learning_rate, num_train_steps, num_warmup_steps, False,
          loss_scale=loss_scale,
          gradient_accumulation_steps=gradient_accumulation_steps,
          loss_is_sum=head.loss_is_sum, fused=numerics.fused_optimizer)
      return tf.estimator.EstimatorSpec(
          mode=mode, loss=head.loss, train_op=train_op,
          training_hooks=list(head.training_hooks))
    return tf.estimator.EstimatorSpec(mode=mode, predictions=head.predictions)

  return model_fn


def model_fn_of(config, bert_config, head_fn, num_train_steps=0,
                num_warmup_steps=0):
  """The model_fn of a RunConfig (`model_fn_builder` with its options)."""
  precision = devices.mixed_precision(config.use_fp16)
  return model_fn_builder(
      bert_config, head_fn, config.init_checkpoint, config.learning_rate,
      num_train_steps, num_warmup_steps,
      loss_scale=config.loss_scale if precision == "float16" else None,
      use_xla=config.use_xla, seed=config.seed,
      gradient_accumulation_steps=config.gradient_accumulation_steps,
      precision=precision)


def create_estimator(config, bert_config, head_fn, num_train_steps=0,
                     num_warmup_steps=0):
  """The Estimator of a RunConfig: model_fn, devices, checkpoints, seed."""
  model_fn = model_fn_of(config, bert_config, head_fn, num_train_steps,
                         num_warmup_steps)
  run_config = tf.estimator.RunConfig(
      train_distribute=devices.make_strategy(config.distribution_strategy),
      model_dir=config.output_dir,
      tf_random_seed=config.seed,
      save_checkpoints_steps=config.save_checkpoints_steps,
      keep_checkpoint_max=config.keep_checkpoint_max,
      log_step_count_steps=config.log_every_n_steps,
      session_config=devices.session_config(config.use_fp16, config.use_xla))
  return tf.estimator.Estimator(model_fn=model_fn, config=run_config)


def checkpoint_step(output_dir):
  """The global step of the latest checkpoint in `output_dir` (0 if none)."""
  latest = tf.train.latest_checkpoint(output_dir)
  if latest is None:
    return 0
  return int(tf.train.load_variable(latest, "global_step"))
