"""finetuning.devices: replicas, the chief, session options."""

import json

import pytest
import tensorflow.compat.v1 as tf

from finetuning import devices
from finetuning import errors


def test_replicas_and_chief(monkeypatch):
  assert devices.num_replicas("none") == 1
  assert devices.num_replicas("one_device") == 1
  monkeypatch.setenv("TF_CONFIG", json.dumps({
      "cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2",
                             "127.0.0.1:3"]},
      "task": {"type": "worker", "index": 1}}))
  assert devices.num_replicas("multi_worker_mirrored") == 3
  assert not devices.is_chief("multi_worker_mirrored")
  assert devices.worker_index() == 1
  assert devices.is_chief("mirrored")


def test_strategies(monkeypatch):
  assert devices.make_strategy("none") is None
  assert devices.make_strategy("one_device") is not None
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(errors.UserError, match="needs TF_CONFIG"):
    devices.make_strategy("multi_worker_mirrored")
  with pytest.raises(errors.FlagError, match="--distribution_strategy=tpu"):
    devices.make_strategy("tpu")


def test_session_config_sets_the_rewrites():
  from tensorflow.core.protobuf import rewriter_config_pb2
  on = rewriter_config_pb2.RewriterConfig.ON
  plain = devices.session_config()
  assert plain.allow_soft_placement
  # Grappler off (its passes cost seconds per session and per new set of
  # fetches); only TensorFlow's float16 rewrite on a GPU.
  assert plain.graph_options.rewrite_options.disable_meta_optimizer
  assert plain.graph_options.optimizer_options.global_jit_level == 0
  predicting = devices.session_config(for_prediction=True)
  rewrites = predicting.graph_options.rewrite_options
  assert not rewrites.disable_meta_optimizer
  # Pruning first: without it constant folding walks the whole model
  # graph when the predictor restores its checkpoint (2 s for BERT-base).
  assert list(rewrites.optimizers) == ["pruning", "constfold", "arithmetic",
                                       "remap"]
  xla = devices.session_config(use_xla=True)
  assert xla.graph_options.optimizer_options.global_jit_level == 1
  # The graph optimizer before Grappler at L0 in every session: at L1 it
  # folds the zero-filled Adam slots into constants (seconds for BERT-base).
  for config in (plain, predicting, xla, devices.session_config(True)):
    assert (config.graph_options.optimizer_options.opt_level ==
            tf.OptimizerOptions.L0)
  fp16 = devices.session_config(use_fp16=True).graph_options.rewrite_options
  if devices.have_gpu():
    assert fp16.auto_mixed_precision == on
    assert list(fp16.optimizers) == ["auto_mixed_precision"]
  else:  # bfloat16 (if any) is built into the graph, not rewritten
    assert fp16.auto_mixed_precision_onednn_bfloat16 != on
    assert fp16.disable_meta_optimizer


def test_mixed_precision_by_device():
  assert devices.mixed_precision(False) is None
  expected = ("float16" if devices.have_gpu() else
              "bfloat16" if devices.cpu_supports_bf16() else None)
  assert devices.mixed_precision(True) == expected


def test_bfloat16_only_where_onednn_may_use_it():
  capped = devices.onednn_isa_capped_below_bf16
  assert capped({"ONEDNN_MAX_CPU_ISA": "AVX2"})
  assert capped({"DNNL_MAX_CPU_ISA": "avx512_core_vnni"})
  assert not capped({})
  assert not capped({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"})
  assert not capped({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"})
  # Without oneDNN, TensorFlow's own kernels run bfloat16.
  assert not capped({"ONEDNN_MAX_CPU_ISA": "AVX2",
                     "TF_ENABLE_ONEDNN_OPTS": "0"})
