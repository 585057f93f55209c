#!/usr/bin/env python
"""Exports a fine-tuned run for inference elsewhere.

    python export_model.py --output_dir=$OUTPUT_DIR --vocab_file=$BIOBERT_DIR/vocab.txt \
      --export_dir=$EXPORT_DIR [--format=huggingface,saved_model] [--checkpoint=PATH]

Takes the run's model (best/ if --keep_best kept one, else the newest
checkpoint of --output_dir, or --checkpoint) and writes, as the run's head
(finetuning/heads.py) says,

- `<export_dir>/huggingface/`: `config.json` (the head's architecture:
  BertForTokenClassification for NER, BertForSequenceClassification for
  RE and yes/no questions, BertForQuestionAnswering for factoid/list QA;
  `id2label`/`label2id`), `model.safetensors` (written with the
  safetensors NumPy API, no PyTorch needed), `vocab.txt`,
  `tokenizer_config.json` (the casing) and `special_tokens_map.json`;
- `<export_dir>/saved_model/`: a TensorFlow SavedModel whose
  `serving_default` signature takes `input_ids`, `input_mask`,
  `segment_ids` (int32 [batch, length]) and returns the head's outputs:
  `logits` and `probabilities` (NER: per token; RE and yes/no: per
  example), or for QA `start_logits`, `end_logits`,
  `start_probabilities`, `end_probabilities`. Call it with
  `saved_model_cli run --dir <export_dir>/saved_model --tag_set serve
  --signature_def serving_default --input_exprs 'input_ids=[[...]];...'`.
"""

import argparse
import errno
import json
import os
import re
import shutil
import sys

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":  # run as a script: the project root on the path
  sys.path.insert(0, ROOT)

from finetuning import errors  # noqa: E402
from finetuning import files  # noqa: E402
from finetuning import heads  # noqa: E402
from finetuning import run_dir  # noqa: E402
from finetuning import selection  # noqa: E402

# Our activations -> Hugging Face's ("gelu" here is BERT's tanh form).
HF_ACTIVATIONS = {"gelu": "gelu_new", "gelu_erf": "gelu", "relu": "relu",
                  "tanh": "tanh"}
FORMATS = ("huggingface", "saved_model")


def hf_name(tf_name, head=None):
  """(Hugging Face name, transpose?) of one of our variables, or None.

  The head's own weights are named by `head` (a `heads.Head`; any
  registered head's when None), the encoder's by BERT's mapping.
  """
  for h in [head] if head else heads.HEADS.values():
    if tf_name in h.hf_variables:
      return h.hf_variables[tf_name], False
  if not tf_name.startswith("bert/") or re.search(r"adam_[mv]$|grad_accum$",
                                                  tf_name):
    return None
  name = tf_name[len("bert/"):].replace("/", ".")
  name = re.sub(r"^encoder\.layer_(\d+)\.", r"encoder.layer.\1.", name)
  transpose = False
  if name.endswith(".gamma"):
    name = name[:-len(".gamma")] + ".weight"
  elif name.endswith(".beta"):
    name = name[:-len(".beta")] + ".bias"
  elif name.endswith(".kernel"):
    name = name[:-len(".kernel")] + ".weight"
    transpose = True
  elif name.endswith("_embeddings"):
    name += ".weight"
  return "bert." + name, transpose


# run_ner.py's labels that no word gets: padding, a word's later pieces
# (X) and the special tokens.
NOT_WORD_LABELS = ("[PAD]", "X", "[CLS]", "[SEP]")


def pipeline_labels(labels, entity_type):
  """The labels transformers' token-classification pipeline reads, in the
  model's label order: B-/I- with their entity type (`entity_type` for a
  model trained on untyped B/I/O tags), O, and O for NOT_WORD_LABELS.

  With `aggregation_strategy="first"` (each word labelled by its first
  piece, as run_ner.py decodes), the pipeline then gives run_ner.py's
  entities: X is only ever the label of a later piece, and special tokens
  are not words.
  """
  out = []
  for label in labels:
    if label in NOT_WORD_LABELS:
      out.append("O")
    elif label in ("B", "I"):
      out.append("%s-%s" % (label, entity_type))
    else:
      out.append(label)
  return out


def hf_config(manifest, entity_type="Entity"):
  """config.json of the Hugging Face export."""
  bert = manifest["bert_config"]
  head = heads.of_run(manifest)
  config = {k: bert[k] for k in (
      "vocab_size", "hidden_size", "num_hidden_layers",
      "num_attention_heads", "intermediate_size", "hidden_dropout_prob",
      "attention_probs_dropout_prob", "max_position_embeddings",
      "type_vocab_size", "initializer_range")}
  config.update(architectures=[head.hf_architecture], model_type="bert",
                hidden_act=HF_ACTIVATIONS[bert.get("hidden_act", "gelu")],
                layer_norm_eps=1e-12, pad_token_id=0,
                position_embedding_type="absolute")
  labels = manifest.get("labels")
  if labels and head.name == "token_classifier":
    # The run's own labels stay beside the pipeline's (`pipeline_labels`).
    config["biobert_labels"] = list(labels)
    labels = pipeline_labels(labels, entity_type)
    config["id2label"] = {str(i): l for i, l in enumerate(labels)}
    config["label2id"] = {l: labels.index(l) for l in labels}
  elif labels:
    config["id2label"] = {str(i): l for i, l in enumerate(labels)}
    config["label2id"] = {l: i for i, l in enumerate(labels)}
  return config


def model_checkpoint(output_dir, checkpoint=None):
  """The checkpoint to export, checked readable: --checkpoint, best/, or
  the newest."""
  import tensorflow.compat.v1 as tf
  from finetuning import model_files
  if checkpoint:
    model_files.checkpoint_shapes(
        checkpoint, "--checkpoint=%s: no readable checkpoint there (expected "
        "the prefix of model.ckpt-NNN.index / .data-* files)" % checkpoint)
    return checkpoint
  path = (selection.best_checkpoint(output_dir) or
          tf.train.latest_checkpoint(output_dir))
  if not path:
    raise errors.UserError("--output_dir=%s holds no trained model (no "
                           "checkpoint)" % output_dir)
  model_files.check_run_checkpoint(output_dir, path)
  return path


def replace_dir(target, build):
  """Builds a directory with `build(path)` beside `target`, then swaps it in.

  A run killed while building leaves the earlier `target` whole (the
  half-built one is removed by the next run); between the two renames of
  the swap the earlier one waits as `.<name>.old`, which the next run puts
  back if `target` is missing.
  """
  parent, name = os.path.split(os.path.abspath(target))
  new, old = (os.path.join(parent, ".%s.%s" % (name, s))
              for s in ("new", "old"))
  if os.path.isdir(old) and not os.path.exists(target):
    os.rename(old, target)  # a swap was cut between its renames
  for leftover in (new, old):
    shutil.rmtree(leftover, ignore_errors=True)
  os.makedirs(parent, exist_ok=True)
  try:
    build(new)
  except BaseException:
    shutil.rmtree(new, ignore_errors=True)
    raise
  if os.path.exists(target):
    os.rename(target, old)
  os.rename(new, target)
  shutil.rmtree(old, ignore_errors=True)


def export_huggingface(manifest, checkpoint, vocab_file, target,
                       entity_type="Entity"):
  """Writes the Hugging Face directory; returns {HF name: array}."""
  import tensorflow.compat.v1 as tf
  from safetensors.numpy import save_file
  reader = tf.train.load_checkpoint(checkpoint)
  # Token classification and question answering in transformers have no
  # pooler: it is left out, so that loading reports nothing unexpected.
  head = heads.of_run(manifest)
  tensors = {}
  for name in sorted(reader.get_variable_to_shape_map()):
    mapped = hf_name(name, head)
    if mapped is None or (not head.uses_pooler and
                          mapped[0].startswith("bert.pooler.")):
      continue
    value = reader.get_tensor(name).astype(np.float32)
    tensors[mapped[0]] = np.ascontiguousarray(value.T if mapped[1] else
                                              value)
  os.makedirs(target, exist_ok=True)
  weights = os.path.join(target, "model.safetensors")
  try:
    save_file(tensors, weights)
  except Exception as e:  # pylint: disable=broad-except
    if "No space left on device" not in str(e):  # safetensors' own error
      raise
    raise OSError(errno.ENOSPC, "No space left on device", weights) from e
  os.chmod(weights, 0o666 & ~files.umask())  # as every other output
  files.atomic_write(os.path.join(target, "config.json"),
                     json.dumps(hf_config(manifest, entity_type), indent=2) +
                     "\n")
  shutil.copyfile(vocab_file, os.path.join(target, "vocab.txt"))
  files.atomic_write(os.path.join(target, "tokenizer_config.json"),
                     json.dumps({
                         "tokenizer_class": "BertTokenizer",
                         "do_lower_case": manifest["do_lower_case"],
                         "model_max_length": manifest["max_seq_length"],
                         "unk_token": "[UNK]", "sep_token": "[SEP]",
                         "pad_token": "[PAD]", "cls_token": "[CLS]",
                         "mask_token": "[MASK]"}, indent=2) + "\n")
  files.atomic_write(os.path.join(target, "special_tokens_map.json"),
                     json.dumps({"unk_token": "[UNK]", "sep_token": "[SEP]",
                                 "pad_token": "[PAD]", "cls_token": "[CLS]",
                                 "mask_token": "[MASK]"}, indent=2) + "\n")
  return tensors


def export_saved_model(manifest, checkpoint, target):
  """Writes the SavedModel with its serving_default signature."""
  import tensorflow.compat.v1 as tf
  import modeling
  tf.disable_v2_behavior()
  head = heads.of_run(manifest)
  config = modeling.BertConfig.from_dict(manifest["bert_config"])
  with tf.Graph().as_default() as graph:
    inputs = {name: tf.placeholder(tf.int32, [None, None], name=name)
              for name in ("input_ids", "input_mask", "segment_ids")}
    model = modeling.BertModel(config, False, inputs["input_ids"],
                               inputs["input_mask"], inputs["segment_ids"])
    outputs = head.serving(model, len(manifest.get("labels") or []))
    saver = tf.train.Saver(tf.global_variables())
    with tf.Session(graph=graph) as sess:
      saver.restore(sess, checkpoint)
      builder = tf.saved_model.builder.SavedModelBuilder(target)
      signature = tf.saved_model.signature_def_utils.predict_signature_def(
          inputs=inputs, outputs=outputs)
      builder.add_meta_graph_and_variables(
          sess, [tf.saved_model.tag_constants.SERVING],
          signature_def_map={"serving_default": signature})
      builder.save()


def export(output_dir, vocab_file, export_dir, formats=FORMATS,
           checkpoint=None, entity_type="Entity"):
  """Exports the run of `output_dir`; returns the checkpoint used."""
  manifest = run_dir.read_manifest(output_dir)
  if manifest is None:
    raise errors.UserError("--output_dir=%s holds no run_manifest.json: not "
                           "a fine-tuned run of this project" % output_dir)
  if not os.path.isfile(vocab_file or ""):
    raise errors.UserError("--vocab_file=%s: file not found (the vocab.txt "
                           "the run was trained with)" % vocab_file)
  recorded = manifest.get("vocab_sha256")
  if recorded and files.file_digest(vocab_file) != recorded:
    raise errors.UserError("--vocab_file=%s is not the vocabulary the run "
                           "was trained with (run_manifest.json)" %
                           vocab_file)
  for f in formats:
    if f not in FORMATS:
      raise errors.UserError("--format=%s: expected huggingface and/or "
                             "saved_model" % f)
  path = model_checkpoint(output_dir, checkpoint)
  problem = files.directory_problem(export_dir)
  if problem:
    raise errors.FlagError("export_dir", export_dir, problem)
  if "huggingface" in formats:
    replace_dir(os.path.join(export_dir, "huggingface"),
                lambda d: export_huggingface(manifest, path, vocab_file, d,
                                             entity_type))
  if "saved_model" in formats:
    replace_dir(os.path.join(export_dir, "saved_model"),
                lambda d: export_saved_model(manifest, path, d))
  return path


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--output_dir", required=True,
                      help="the --output_dir of a fine-tuning run")
  parser.add_argument("--vocab_file", required=True,
                      help="the vocab.txt the run was trained with")
  parser.add_argument("--export_dir", required=True,
                      help="where huggingface/ and saved_model/ go")
  parser.add_argument("--format", default="huggingface,saved_model",
                      help="huggingface, saved_model, or both (comma)")
  parser.add_argument("--checkpoint", default=None,
                      help="a checkpoint prefix (default: best/ if kept, "
                      "else the newest)")
  parser.add_argument("--entity_type", default="Entity",
                      help="NER trained on untyped B/I/O tags: the type its "
                      "exported labels get (B-Disease, I-Disease)")
  args = parser.parse_args(argv)
  from finetuning import console
  console.no_deprecation_notices()
  path = export(args.output_dir, args.vocab_file, args.export_dir,
                [f.strip() for f in args.format.split(",") if f.strip()],
                args.checkpoint, args.entity_type)
  print("Exported %s to %s" % (path, args.export_dir))
  return 0


if __name__ == "__main__":
  # A user error: one line, exit 2; a full disk or another OS error: one
  # line, exit 1 (a previous export is left as it was).
  sys.exit(errors.run_main(main, "export again")(sys.argv[1:]))
