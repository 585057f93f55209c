# coding=utf-8
"""BioBERT relation extraction (GAD, EU-ADR, ChemProt): fine-tune and predict.

    python run_re.py --task_name=gad --do_train=true --do_eval=true \
      --do_predict=true --vocab_file=$BIOBERT_DIR/vocab.txt \
      --bert_config_file=$BIOBERT_DIR/bert_config.json \
      --init_checkpoint=$BIOBERT_DIR/model.ckpt-1000000 \
      --max_seq_length=128 --train_batch_size=32 --learning_rate=2e-5 \
      --num_train_epochs=3.0 --do_lower_case=false --data_dir=$RE_DIR \
      --output_dir=$OUTPUT_DIR

The data dir holds train.tsv and dev.tsv (`sentence<TAB>label`) and test.tsv
(`index<TAB>sentence<TAB>label` after a header), entities masked as
@GENE$, @DISEASE$ or @CHEMICAL$. --do_predict writes test_results.tsv (class
probabilities, one line per test example); --do_eval writes eval_results.txt.
Score with biocodes/re_eval.py; run all folds with biocodes/run_re_folds.py.
"""

import collections
import os

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

from biocodes import re_io
from finetuning import errors
from finetuning import estimator as est
from finetuning import feature_cache
from finetuning import flags as common_flags
from finetuning import heads
from finetuning import run_dir

common_flags.define_common_flags()
FLAGS = flags.FLAGS

InputExample = collections.namedtuple("InputExample",
                                      ["guid", "text", "label"])


class ReProcessor(object):
  """A BioBERT RE data dir. Subclass it for a new dataset (set `labels`)."""

  labels = None
  train_file = "train.tsv"
  dev_file = "dev.tsv"
  test_file = "test.tsv"

  def get_labels(self):
    """The task's labels, in the order of the model's outputs."""
    return list(self.labels)

  def get_train_examples(self, data_dir):
    """Training examples."""
    return self._read(data_dir, self.train_file, "train")

  def get_dev_examples(self, data_dir):
    """Evaluation examples ([] for an empty file, as GAD/EU-ADR ship)."""
    return self._read(data_dir, self.dev_file, "dev", allow_empty=True)

  def get_test_examples(self, data_dir):
    """Prediction examples, in file order."""
    return self._read(data_dir, self.test_file, "test")

  def _read(self, data_dir, name, set_type, allow_empty=False):
    path = os.path.join(data_dir, name)
    if not os.path.isfile(path):
      raise errors.InputError(
          path, None, "file not found. An RE data dir holds %s, %s and %s" %
          (self.train_file, self.dev_file, self.test_file))
    rows = re_io.read_rows(path, labels=self.get_labels(),
                           allow_empty=allow_empty)
    return [InputExample("%s-%s" % (set_type, r.index), r.sentence, r.label)
            for r in rows]


class GadProcessor(ReProcessor):
  labels = re_io.TASK_LABELS["gad"]


class EuadrProcessor(ReProcessor):
  labels = re_io.TASK_LABELS["euadr"]


class ChemprotProcessor(ReProcessor):
  labels = re_io.TASK_LABELS["chemprot"]


PROCESSORS = {"gad": GadProcessor, "euadr": EuadrProcessor,
              "chemprot": ChemprotProcessor}


def convert_examples(examples, label_list, tokenizer, max_seq_length):
  """`[CLS] sentence [SEP]` features, cut to `max_seq_length`.

  Returns:
    (features, number of examples that were cut).
  """
  label_map = {label: i for i, label in enumerate(label_list)}
  features = []
  n_cut = 0
  for ex_index, ex in enumerate(examples):
    tokens = tokenizer.tokenize(ex.text)
    if len(tokens) > max_seq_length - 2:
      n_cut += 1
      tokens = tokens[:max_seq_length - 2]
    tokens = ["[CLS]"] + tokens + ["[SEP]"]
    n = len(tokens)
    pad = max_seq_length - n
    features.append({
        "input_ids": tokenizer.convert_tokens_to_ids(tokens) + [0] * pad,
        "input_mask": [1] * n + [0] * pad,
        "segment_ids": [0] * max_seq_length,
        "label_ids": [label_map[ex.label]],
    })
    if ex_index < 3:
      tf.logging.info("*** Example %s ***", ex.guid)
      tf.logging.info("tokens: %s", " ".join(tokens))
      tf.logging.info("label: %s", ex.label)
  return features, n_cut


def feature_lengths(max_seq_length):
  """Feature names and lengths of the RE TFRecords (label is a scalar)."""
  return {"input_ids": max_seq_length, "input_mask": max_seq_length,
          "segment_ids": max_seq_length, "label_ids": None}


def head_fn_builder(num_labels):
  """Softmax classifier on the pooled [CLS] output; mean cross-entropy."""

  def head_fn(model, features, is_training):
    logits = heads.output_logits(model.get_pooled_output(), num_labels,
                                 is_training)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    labels = features["label_ids"]
    one_hot_labels = tf.one_hot(labels, depth=num_labels, dtype=tf.float32)
    per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
    loss = tf.reduce_mean(per_example_loss)
    probabilities = tf.nn.softmax(logits, axis=-1)

    def eval_metrics():
      predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
      return {"eval_accuracy": tf.metrics.accuracy(labels, predictions),
              "eval_loss": tf.metrics.mean(per_example_loss)}

    return est.HeadOutput(loss, {"probabilities": probabilities},
                          eval_metrics)

  return head_fn


def _report_cut(n_cut, n, name, max_seq_length):
  message = ("%d of %d %s sentences are longer than %d word pieces and were "
             "cut to fit --max_seq_length=%d" %
             (n_cut, n, name, max_seq_length - 2, max_seq_length))
  tf.logging.info(message)
  if n_cut:
    print(message)


def format_probabilities(probabilities):
  """test_results.tsv lines: probabilities tab-separated, label order."""
  return "".join("\t".join(str(p) for p in row) + "\n"
                 for row in probabilities)


def main(_):
  est.setup_logging()
  if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict):
    raise errors.UserError(
        "At least one of `do_train`, `do_eval` or `do_predict' must be True.")
  for name in ("output_dir", "data_dir", "task_name"):
    if not getattr(FLAGS, name):
      raise errors.UserError("--%s is required" % name)
  task_name = FLAGS.task_name.lower()
  if task_name not in PROCESSORS:
    raise errors.UserError("--task_name=%s: expected one of %s" %
                           (FLAGS.task_name, ", ".join(sorted(PROCESSORS))))
  processor = PROCESSORS[task_name]()
  label_list = processor.get_labels()
  options = common_flags.run_options(FLAGS)
  bert_config, tokenizer = est.load_model_files(
      FLAGS.bert_config_file, FLAGS.vocab_file, FLAGS.do_lower_case,
      FLAGS.init_checkpoint, FLAGS.max_seq_length)

  # Read and check every input before anything is written.
  if FLAGS.do_train:
    train_examples = processor.get_train_examples(FLAGS.data_dir)
  if FLAGS.do_eval:
    dev_examples = processor.get_dev_examples(FLAGS.data_dir)
  if FLAGS.do_predict:
    test_examples = processor.get_test_examples(FLAGS.data_dir)

  run = run_dir.describe_run(task_name, label_list, bert_config,
                             FLAGS.max_seq_length, FLAGS.do_lower_case)
  run_dir.prepare_output_dir(FLAGS.output_dir, run, training=FLAGS.do_train)
  seq = FLAGS.max_seq_length

  num_train_steps = num_warmup_steps = 0
  if FLAGS.do_train:

    def build():
      parts = feature_cache.parallel_chunks(
          lambda chunk: convert_examples(chunk, label_list, tokenizer, seq),
          train_examples)
      return ([f for feats, _ in parts for f in feats],
              {"cut": sum(n for _, n in parts)})

    training = est.prepare_training(
        options, [os.path.join(FLAGS.data_dir, processor.train_file)],
        label_list, feature_lengths(seq), build, task=task_name)
    num_train_steps = training.num_train_steps
    num_warmup_steps = training.num_warmup_steps
    _report_cut(training.info["cut"], len(train_examples), "training", seq)

  estimator = est.create_estimator(bert_config,
                                   head_fn_builder(len(label_list)), options,
                                   num_train_steps, num_warmup_steps)
  if FLAGS.do_train and not est.run_training(estimator, training,
                                             feature_lengths(seq), options):
    return  # a non-chief worker: the chief evaluates and predicts

  if FLAGS.do_eval:
    if not dev_examples:
      message = ("%s is empty: nothing to evaluate (the GAD and EU-ADR "
                 "releases ship an empty dev.tsv); skipping --do_eval" %
                 os.path.join(FLAGS.data_dir, processor.dev_file))
      tf.logging.warning(message)
      print(message)
    else:
      eval_features, n_cut = convert_examples(dev_examples, label_list,
                                              tokenizer, seq)
      _report_cut(n_cut, len(dev_examples), "dev", seq)
      input_fn = est.features_input_fn(
          eval_features, feature_lengths(seq),
          os.path.join(FLAGS.output_dir, "eval.tf_record"),
          FLAGS.eval_batch_size, FLAGS.bucket_by_length)
      result = estimator.evaluate(input_fn=input_fn)
      est.write_eval_results(FLAGS.output_dir, result)

  if FLAGS.do_predict:
    predict_features, n_cut = convert_examples(test_examples, label_list,
                                               tokenizer, seq)
    _report_cut(n_cut, len(test_examples), "test", seq)
    probabilities = [r["probabilities"] for r in est.predict_features(
        estimator, predict_features, feature_lengths(seq),
        os.path.join(FLAGS.output_dir, "predict.tf_record"),
        FLAGS.predict_batch_size, FLAGS.bucket_by_length)]
    if len(probabilities) != len(test_examples):
      raise RuntimeError("%d predictions for %d test examples" %
                         (len(probabilities), len(test_examples)))
    path = os.path.join(FLAGS.output_dir, "test_results.tsv")
    errors.atomic_write(path, format_probabilities(probabilities))
    print("Wrote %d predictions to %s" % (len(probabilities), path))


if __name__ == "__main__":
  tf.disable_v2_behavior()
  app.run(errors.run_main(main))
