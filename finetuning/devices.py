"""Devices and distribution: GPU/bf16 detection, session config, strategies."""

import json
import os

import tensorflow.compat.v1 as tf

from finetuning import errors

STRATEGIES = ["none", "one_device", "mirrored", "multi_worker_mirrored"]


def have_gpu():
  """Whether TensorFlow sees a GPU."""
  return bool(tf.config.list_physical_devices("GPU"))


# oneDNN instruction-set caps (ONEDNN_MAX_CPU_ISA) below AVX512_CORE_BF16.
_ISAS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2",
                      "AVX512_CORE", "AVX512_CORE_VNNI")


def cpu_has_bf16_instructions():
  """Whether this CPU has native bfloat16 instructions (Linux)."""
  try:
    with open("/proc/cpuinfo") as f:
      flags = f.read()
  except OSError:
    return False
  return "avx512_bf16" in flags or "amx_bf16" in flags


def onednn_isa_capped_below_bf16(environ=None):
  """Whether oneDNN is on and ONEDNN_MAX_CPU_ISA keeps it from bfloat16.

  TensorFlow still hands bfloat16 ops to oneDNN when the CPU has the
  instructions, and oneDNN then aborts the process: --use_fp16 must not
  choose bfloat16 there.
  """
  environ = os.environ if environ is None else environ
  if environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() in (
      "0", "false"):
    return False
  isa = (environ.get("ONEDNN_MAX_CPU_ISA") or
         environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
  return isa in _ISAS_WITHOUT_BF16


def cpu_supports_bf16():
  """Whether bfloat16 compute can run here: the CPU has the instructions
  and oneDNN is allowed to use them."""
  return cpu_has_bf16_instructions() and not onednn_isa_capped_below_bf16()


def mixed_precision(use_fp16):
  """How --use_fp16 runs here: "float16" (a GPU: TensorFlow's float16
  rewrite, with loss scaling), "bfloat16" (a CPU with bfloat16
  instructions: the model computes in bfloat16, `modeling.BertModel`'s
  compute_dtype), or None (float32; with a warning if it was asked for).
  """
  if not use_fp16:
    return None
  if have_gpu():
    return "float16"
  if cpu_supports_bf16():
    return "bfloat16"
  tf.logging.warning("--use_fp16: no GPU and no bfloat16 support in this "
                     "CPU%s; running in float32" %
                     (" (ONEDNN_MAX_CPU_ISA)" if cpu_has_bf16_instructions()
                      else ""))
  return None


PREDICTION_PASSES = ["pruning", "constfold", "arithmetic", "remap"]


def session_config(use_fp16=False, use_xla=False, for_prediction=False):
  """ConfigProto with the float16 rewrite (GPU) and XLA as asked.

  Training: Grappler runs only that rewrite, and only on a GPU: its default
  passes (constant folding, arithmetic rewrites, op fusion) cost 2-3 s on
  every new session of a BERT graph, and its bfloat16 rewrite again on
  every new set of fetches (seconds per run with Estimator hooks), with no
  steady gain in training on CPU (bench/peer.py). bfloat16 on a CPU is
  built into the graph instead.

  `for_prediction`: the predictor's one session runs one set of fetches,
  so the passes run once (well under a second) and their fusions (matmul
  with bias, GELU) make prediction about 10 % faster here; the outputs
  equal the Estimator's (tests/test_predictor.py). Pruning runs first, or
  constant folding would walk the whole model when the checkpoint is
  restored (2 s for BERT-base).

  Every session: the graph optimizer that runs before Grappler is at L0.
  At its default level it constant-folds the optimizer's zero-filled Adam
  slots into constants twice the model's size when the variables are
  initialized: 3-5 s for BERT-base, for nothing (the ops and kernels that
  run are otherwise the same).
  """
  from tensorflow.core.protobuf import rewriter_config_pb2
  config = tf.ConfigProto(allow_soft_placement=True)
  config.graph_options.optimizer_options.opt_level = tf.OptimizerOptions.L0
  rewrites = config.graph_options.rewrite_options
  if use_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
    # (Auto-clustering skips CPUs; the model_fn also marks the model for
    # compilation explicitly, which works on every device.)
  passes = list(PREDICTION_PASSES) if for_prediction else []
  if use_fp16 and have_gpu():
    rewrites.auto_mixed_precision = rewriter_config_pb2.RewriterConfig.ON
    passes.append("auto_mixed_precision")
  if passes:
    rewrites.optimizers.extend(passes)
  else:
    rewrites.disable_meta_optimizer = True
  return config


def make_strategy(name):
  """A tf.distribute strategy by flag value ("none" gives None)."""
  if name in (None, "", "none"):
    return None
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy(
        "/gpu:0" if have_gpu() else "/cpu:0")
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker_mirrored":
    if not os.environ.get("TF_CONFIG"):
      raise errors.UserError(
          "--distribution_strategy=multi_worker_mirrored needs TF_CONFIG "
          "describing the workers, e.g. {\"cluster\": {\"worker\": "
          "[\"host1:2222\", \"host2:2222\"]}, \"task\": {\"type\": "
          "\"worker\", \"index\": 0}}")
    return tf.distribute.experimental.MultiWorkerMirroredStrategy()
  raise errors.FlagError("distribution_strategy", name,
                         "one of " + ", ".join(STRATEGIES))


def is_multi_worker(strategy):
  """Whether `strategy` trains over several workers."""
  return isinstance(strategy,
                    tf.distribute.experimental.MultiWorkerMirroredStrategy)


def num_replicas(strategy_name):
  """Replicas that train in step together under a strategy."""
  if strategy_name in (None, "", "none"):
    return 1
  if strategy_name == "multi_worker_mirrored":
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster",
                                                                 {})
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    gpus = max(1, len(tf.config.list_physical_devices("GPU")))
    return max(1, workers) * gpus
  if strategy_name == "mirrored":
    return max(1, len(tf.config.list_physical_devices("GPU")))
  return 1


def is_chief(strategy_name):
  """False for the non-chief workers of a multi-worker run."""
  if strategy_name != "multi_worker_mirrored":
    return True
  config = json.loads(os.environ.get("TF_CONFIG", "{}"))
  task = config.get("task", {})
  if "chief" in config.get("cluster", {}):
    return task.get("type") == "chief"
  return task.get("type", "worker") == "worker" and task.get("index", 0) == 0


def worker_index():
  """This worker's index in TF_CONFIG (0 without one)."""
  return json.loads(os.environ.get("TF_CONFIG", "{}")).get("task",
                                                           {}).get("index", 0)
