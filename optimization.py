# coding=utf-8
"""BERT's optimizer: Adam with decoupled weight decay and a warmup/decay schedule.

Same updates as Google's BERT `optimization.py`, with one deliberate fix: the
learning rate of a step is computed from `global_step` *before* the step's
increment (a control dependency), where the original ran both in parallel
and read either value at random.
"""

import re

import tensorflow.compat.v1 as tf
from tensorflow.python.training import gen_training_ops

# Variables whose names contain one of these get no weight decay.
DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ["LayerNorm", "layer_norm", "bias"]


def learning_rate_schedule(init_lr, global_step, num_train_steps,
                           num_warmup_steps):
  """Linear warmup to `init_lr`, then linear (power 1.0) decay to 0.

  During the first `num_warmup_steps` steps the rate is
  `init_lr * global_step / num_warmup_steps`; after that it is
  `init_lr * (1 - global_step / num_train_steps)` (clamped at the end).

  Returns:
    A float32 scalar Tensor.
  """
  learning_rate = tf.constant(value=init_lr, shape=[], dtype=tf.float32)
  learning_rate = tf.train.polynomial_decay(
      learning_rate,
      global_step,
      num_train_steps,
      end_learning_rate=0.0,
      power=1.0,
      cycle=False)

  if num_warmup_steps:
    global_steps_int = tf.cast(global_step, tf.int32)
    warmup_steps_int = tf.constant(num_warmup_steps, dtype=tf.int32)

    global_steps_float = tf.cast(global_steps_int, tf.float32)
    warmup_steps_float = tf.cast(warmup_steps_int, tf.float32)

    warmup_percent_done = global_steps_float / warmup_steps_float
    warmup_learning_rate = init_lr * warmup_percent_done

    is_warmup = tf.cast(global_steps_int < warmup_steps_int, tf.float32)
    learning_rate = ((1.0 - is_warmup) * learning_rate +
                     is_warmup * warmup_learning_rate)
  return learning_rate


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps, use_tpu,
                     loss_scale=None, gradient_accumulation_steps=1,
                     loss_is_sum=False, fused=False):
  """Creates the training op of BERT fine-tuning.

  Gradients of `loss` over all trainable variables are clipped to global norm
  1.0 and applied by `AdamWeightDecayOptimizer`; then `global_step` is
  incremented by one.

  Args:
    loss: scalar float Tensor.
    init_lr: peak learning rate.
    num_train_steps: steps over which the rate decays to 0.
    num_warmup_steps: steps of linear warmup (0 for none).
    use_tpu: accepted for compatibility; TPUs are not supported.
    loss_scale: optional static loss scale for float16 training: the loss is
      multiplied by it before differentiation and the gradients divided by it.
    gradient_accumulation_steps: K > 1 makes each run of the train op one
      micro-batch: gradients are added up over K runs, and every K-th run
      applies the update of the K times larger batch (their mean, or their
      sum when `loss_is_sum`), clipped as above, and increments
      `global_step`. Steps and the learning-rate schedule count updates.
    loss_is_sum: the loss adds up over the examples of a batch (run_ner.py)
      rather than averaging them.
    fused: apply the update with TensorFlow's fused kernels
      (`AdamWeightDecayOptimizer(fused=True)`): the same update up to float
      rounding, in two passes over each variable instead of about twenty.

  Returns:
    The train op.
  """
  del use_tpu  # TPUs are not supported; the flag is kept for old commands.
  global_step = tf.train.get_or_create_global_step()

  learning_rate = learning_rate_schedule(init_lr, global_step, num_train_steps,
                                         num_warmup_steps)

  optimizer = AdamWeightDecayOptimizer(
      learning_rate=learning_rate,
      weight_decay_rate=0.01,
      beta_1=0.9,
      beta_2=0.999,
      epsilon=1e-6,
      exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
      fused=fused)

  tvars = tf.trainable_variables()
  if loss_scale:
    grads = tf.gradients(loss * loss_scale, tvars)
    grads = [None if g is None else g / loss_scale for g in grads]
  else:
    grads = tf.gradients(loss, tvars)

  if gradient_accumulation_steps > 1:
    return _accumulating_train_op(optimizer, grads, tvars, global_step,
                                  gradient_accumulation_steps, loss_is_sum)
  return _update(optimizer, grads, tvars, global_step)


def _update(optimizer, grads, tvars, global_step):
  """Clipped update, then the increment of `global_step`."""
  # This is how the model was pre-trained.
  (grads, _) = tf.clip_by_global_norm(grads, clip_norm=1.0)

  apply_op = optimizer.apply_gradients(zip(grads, tvars))

  # The increment waits for the update, so the update always used the
  # learning rate of the step before the increment.
  with tf.control_dependencies([apply_op]):
    increment = tf.assign_add(global_step, 1)
  return tf.group(apply_op, increment)


def _accumulating_train_op(optimizer, grads, tvars, global_step, k,
                           loss_is_sum):
  """Adds `grads` up; every `k`-th run applies them (see create_optimizer).

  The sums live in variables `<variable>/grad_accum` and the count of
  micro-batches in `gradient_accumulation/micro_step`, all saved with the
  checkpoint (a checkpoint is written right after an update, when they are
  zero).
  """
  pairs = [(g, v) for g, v in zip(grads, tvars) if g is not None]
  sums = [tf.get_variable(v.op.name + "/grad_accum", v.shape, tf.float32,
                          initializer=tf.zeros_initializer(),
                          trainable=False) for _, v in pairs]
  micro_step = tf.get_variable("gradient_accumulation/micro_step", [],
                               tf.int64, initializer=tf.zeros_initializer(),
                               trainable=False)
  add = [s.assign_add(tf.cast(g, tf.float32)) for s, (g, _) in
         zip(sums, pairs)]
  with tf.control_dependencies(add):
    count = micro_step.assign_add(1)
  # The slots exist before the conditional update creates nothing inside it.
  optimizer._create_slots([v for _, v in pairs])  # pylint: disable=protected-access

  def apply():
    scale = 1.0 if loss_is_sum else 1.0 / k
    total = [s.read_value() * scale for s in sums]
    update = _update(optimizer, total, [v for _, v in pairs], global_step)
    with tf.control_dependencies([update]):
      reset = [s.assign(tf.zeros_like(s)) for s in sums]
      reset.append(micro_step.assign(0))
    return tf.group(update, *reset)

  return tf.cond(tf.equal(count % k, 0), apply, tf.no_op)


class AdamWeightDecayOptimizer(tf.train.Optimizer):
  """Adam with decoupled ("correct") L2 weight decay and no bias correction."""

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               name="AdamWeightDecayOptimizer",
               fused=False):
    """Constructs an AdamWeightDecayOptimizer.

    `fused`: each variable is updated in place by two fused kernels, the
    weight decay (`ApplyGradientDescent` of the variable by itself) and then
    Adam (`ApplyAdam` with zero beta powers, which is Adam without bias
    correction): two passes over the variable and its slots instead of the
    ~20 element-wise ops and copies of the original's formulas. The same
    update up to float rounding: the kernels compute m + (g - m)(1 - beta1)
    and lr m / (sqrt(v) + epsilon) where the original computes
    beta1 m + (1 - beta1) g and lr (m / (sqrt(v) + epsilon)), they compute
    1 - beta2 in float32 (0.0010000467 for 0.001: the second moment moves
    by 4.7e-5 relative, as if beta2 were 0.99899995), and the decay is
    subtracted first. Off by default: the faithful update is unchanged.
    """
    super(AdamWeightDecayOptimizer, self).__init__(False, name)

    self.learning_rate = learning_rate
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay = exclude_from_weight_decay
    self.fused = fused

  # The update runs through tf.train.Optimizer's own apply_gradients, so that
  # under a tf.distribute strategy the gradients are all-reduced across
  # replicas before it. `global_step` is incremented by `create_optimizer`.

  def _create_slots(self, var_list):
    # Slot variables `<variable>/adam_m` and `<variable>/adam_v`, the names
    # BERT checkpoints carry.
    for v in var_list:
      self._zeros_slot(v, "m", "adam_m")
      self._zeros_slot(v, "v", "adam_v")

  def _prepare(self):
    self._lr_t = tf.convert_to_tensor(self.learning_rate, name="learning_rate")

  def _adam_update(self, grad, param, m, v):
    """The assignments of one step (no bias correction, decoupled decay)."""
    grad = tf.cast(grad, tf.float32)
    next_m = (
        tf.multiply(self.beta_1, m) + tf.multiply(1.0 - self.beta_1, grad))
    next_v = (
        tf.multiply(self.beta_2, v) + tf.multiply(1.0 - self.beta_2,
                                                  tf.square(grad)))
    update = next_m / (tf.sqrt(next_v) + self.epsilon)
    # Weight decay is added to the update itself rather than to the loss,
    # so that it does not interact with the m and v moments.
    if self._do_use_weight_decay(self._get_variable_name(param.name)):
      update += self.weight_decay_rate * param
    update_with_lr = self._lr_t * update
    next_param = param - update_with_lr
    return tf.group(param.assign(next_param), m.assign(next_m),
                    v.assign(next_v))

  def _fused_update(self, grad, param, m, v, resource):
    """The step of `_adam_update` by fused kernels, in place (`fused`)."""
    grad = tf.cast(grad, tf.float32)
    name = self._get_variable_name(param.name)
    if resource:
      sgd = gen_training_ops.resource_apply_gradient_descent
      adam = gen_training_ops.resource_apply_adam
      value = param.read_value()
      param, m, v = param.handle, m.handle, v.handle
    else:
      sgd = gen_training_ops.apply_gradient_descent
      adam = gen_training_ops.apply_adam
      value = tf.identity(param)
    decay = []
    if self._do_use_weight_decay(name):
      # param -= lr * weight_decay_rate * param, before the Adam step. Not
      # before the (clipped) gradient exists: nothing else orders it after
      # the forward and backward passes, which read the weight.
      with tf.control_dependencies([grad]):
        decay = [sgd(param, self._lr_t * self.weight_decay_rate, value,
                     use_locking=self._use_locking)]
    zero = tf.constant(0.0, tf.float32)
    with tf.control_dependencies(decay):
      return adam(param, m, v, zero, zero, self._lr_t,
                  tf.constant(self.beta_1, tf.float32),
                  tf.constant(self.beta_2, tf.float32),
                  tf.constant(self.epsilon, tf.float32), grad,
                  use_locking=self._use_locking)

  def _step(self, grad, var, resource):
    m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
    if self.fused:
      return self._fused_update(grad, var, m, v, resource)
    return self._adam_update(grad, var, m, v)

  def _apply_dense(self, grad, var):
    return self._step(grad, var, False)

  def _resource_apply_dense(self, grad, handle):
    return self._step(grad, handle, True)

  def _apply_sparse(self, grad, var):
    return self._apply_dense(tf.convert_to_tensor(grad), var)

  def _resource_apply_sparse(self, grad, handle, indices):
    dense = tf.math.unsorted_segment_sum(grad, indices,
                                         tf.shape(handle)[0])
    return self._resource_apply_dense(dense, handle)

  def _do_use_weight_decay(self, param_name):
    """Whether to use L2 weight decay for `param_name`."""
    if not self.weight_decay_rate:
      return False
    if self.exclude_from_weight_decay:
      for r in self.exclude_from_weight_decay:
        if re.search(r, param_name) is not None:
          return False
    return True

  def _get_variable_name(self, param_name):
    """Gets the variable name from the tensor name."""
    m = re.match("^(.*):\\d+$", param_name)
    if m is not None:
      param_name = m.group(1)
    return param_name
