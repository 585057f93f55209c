"""Flags shared by the three runners, with the original BioBERT names.

Each runner calls `define_common_flags(...)` with the defaults its original
script had (they differ: run_ner trains and predicts by default, run_re does
nothing unless asked), then defines its own task flags.
"""

from absl import flags

FLAGS = flags.FLAGS

# Defaults shared by all runners unless a runner overrides them.
_COMMON_DEFAULTS = dict(
    do_train=False,
    do_eval=False,
    do_predict=False,
    do_lower_case=True,
    max_seq_length=128,
    train_batch_size=32,
    eval_batch_size=8,
    predict_batch_size=8,
    learning_rate=5e-5,
    num_train_epochs=3.0,
    warmup_proportion=0.1,
    save_checkpoints_steps=1000,
    task_name=None,
)


def define_common_flags(**overrides):
  """Defines the flags every runner takes; `overrides` change defaults.

  Calling it again (a second runner imported in the same process, as in
  tests) only resets the defaults.
  """
  unknown = set(overrides) - set(_COMMON_DEFAULTS)
  if unknown:
    raise ValueError("no common flag named %s" % sorted(unknown))
  d = dict(_COMMON_DEFAULTS, **overrides)
  if "output_dir" in FLAGS:
    for name, value in d.items():
      FLAGS.set_default(name, value)
    return

  # Paths.
  flags.DEFINE_string(
      "data_dir", None,
      "The input data dir. Should contain the .tsv files for the task.")
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file of the pre-trained BERT model.")
  flags.DEFINE_string("task_name", d["task_name"], "The name of the task.")
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file of the BERT model.")
  flags.DEFINE_string(
      "output_dir", None,
      "Where checkpoints, predictions and the run record are written.")
  flags.DEFINE_string(
      "init_checkpoint", None,
      "Initial checkpoint (usually from a pre-trained BERT model).")

  # Model input.
  flags.DEFINE_bool(
      "do_lower_case", d["do_lower_case"],
      "Lower case the input text. True for uncased models, False for cased "
      "ones (BioBERT is cased).")
  flags.DEFINE_integer(
      "max_seq_length", d["max_seq_length"],
      "Maximum total input length in WordPiece tokens, [CLS] and [SEP] "
      "included.")

  # What to do.
  flags.DEFINE_bool("do_train", d["do_train"], "Whether to run training.")
  flags.DEFINE_bool("do_eval", d["do_eval"],
                    "Whether to run eval on the dev set.")
  flags.DEFINE_bool("do_predict", d["do_predict"],
                    "Whether to run prediction on the test set.")

  # Optimisation.
  flags.DEFINE_integer("train_batch_size", d["train_batch_size"],
                       "Total batch size for training.")
  flags.DEFINE_integer("eval_batch_size", d["eval_batch_size"],
                       "Total batch size for eval.")
  flags.DEFINE_integer("predict_batch_size", d["predict_batch_size"],
                       "Total batch size for predict.")
  flags.DEFINE_float("learning_rate", d["learning_rate"],
                     "The initial learning rate for Adam.")
  flags.DEFINE_float("num_train_epochs", d["num_train_epochs"],
                     "Total number of training epochs to perform.")
  flags.DEFINE_float(
      "warmup_proportion", d["warmup_proportion"],
      "Proportion of training to perform linear learning rate warmup for. "
      "E.g., 0.1 = 10% of training.")
  flags.DEFINE_integer("save_checkpoints_steps", d["save_checkpoints_steps"],
                       "How often to save the model checkpoint.")
  flags.DEFINE_integer("keep_checkpoint_max", 5,
                       "How many recent checkpoints to keep.")
  flags.DEFINE_integer(
      "gradient_accumulation_steps", 1,
      "Add up the gradients of K batches of --train_batch_size before each "
      "update: the update of a K times larger batch in the memory of one. "
      "Steps, --save_checkpoints_steps and the learning-rate schedule count "
      "updates.")
  flags.DEFINE_integer(
      "seed", None,
      "Random seed (graph-level seed and data shuffling) for reproducible "
      "runs. Unset: a different run each time, as the original.")
  flags.DEFINE_integer("log_every_n_steps", 100,
                       "How often training logs progress, speed and ETA.")

  # Choosing the model on the development set (README "Choosing the model
  # on dev").
  flags.DEFINE_integer(
      "eval_every_n_steps", 0,
      "Score the dev set with the task's real metric (NER entity F1, RE F1) "
      "every N training steps: logged, appended to dev_scores.jsonl and "
      "written for TensorBoard. 0: only at the end (--do_eval).")
  flags.DEFINE_bool("eval_every_epoch", False,
                    "Score the dev set after every epoch (as "
                    "--eval_every_n_steps with the steps of one epoch).")
  flags.DEFINE_bool(
      "keep_best", False,
      "Keep the checkpoint with the best dev score in <output_dir>/best/ and "
      "evaluate and predict with it. Needs dev evaluations during training.")
  flags.DEFINE_integer(
      "early_stopping_patience", 0,
      "Stop training after this many dev evaluations without improvement "
      "(0: never).")

  # Speed (see README "Speed").
  flags.DEFINE_bool(
      "bucket_by_length", True,
      "Store examples unpadded and batch them by similar length, each batch "
      "padded only to its longest member (a multiple of 8): the same "
      "predictions, much less compute on padding; training batches are "
      "made of examples of similar length. --bucket_by_length=false: pad "
      "every example to --max_seq_length and batch in the shuffled order, "
      "exactly as the original.")
  flags.DEFINE_bool(
      "pack_sequences", False,
      "run_ner.py: pack several sentences into each row of --max_seq_length "
      "(positions restart, each sentence attends to itself only). A "
      "training batch holds the same --train_batch_size sentences as a "
      "padded one; predictions equal the padded ones up to float rounding. "
      "Overrides --bucket_by_length.")
  flags.DEFINE_bool(
      "use_fp16", False,
      "Mixed precision: float16 with loss scaling on a GPU (TensorFlow's "
      "graph rewrite), bfloat16 on a CPU that supports it (AVX512_BF16 / "
      "AMX; the dense layers, attention and GELU compute in bfloat16, the "
      "rest in float32). Variables stay float32.")
  flags.DEFINE_float("loss_scale", 1024.0,
                     "Static loss scale for --use_fp16 on a GPU.")
  flags.DEFINE_bool("use_xla", False, "Compile the graph with XLA.")
  flags.DEFINE_enum(
      "distribution_strategy", "none",
      ["none", "one_device", "mirrored", "multi_worker_mirrored"],
      "none: the original single-device training. one_device: one GPU (or "
      "the CPU). mirrored: all local GPUs. multi_worker_mirrored: several "
      "machines described by TF_CONFIG. With a strategy, --train_batch_size "
      "is per replica: the global batch is train_batch_size x replicas, and "
      "the number of steps is divided by the number of replicas.")
  from finetuning import feature_cache
  flags.DEFINE_string(
      "cache_dir", feature_cache.DEFAULT_CACHE_DIR,
      "Where tokenized training features are kept, keyed by the input "
      "file's and the vocab's content, casing, max_seq_length and labels, "
      "so that a re-run skips tokenization. Empty: no cache (write "
      "train.tf_record into --output_dir, as the original).")

  # Accepted so that old TPU-era commands keep working; not used.
  flags.DEFINE_integer("iterations_per_loop", 1000,
                       "Accepted for compatibility (TPU only); ignored.")
  flags.DEFINE_bool("use_tpu", False,
                    "Accepted for compatibility; TPUs are not supported.")
  flags.DEFINE_string("tpu_name", None, "Accepted for compatibility; ignored.")
  flags.DEFINE_string("tpu_zone", None, "Accepted for compatibility; ignored.")
  flags.DEFINE_string("gcp_project", None,
                      "Accepted for compatibility; ignored.")
  flags.DEFINE_string("master", None, "Accepted for compatibility; ignored.")
  flags.DEFINE_integer("num_tpu_cores", 8,
                       "Accepted for compatibility; ignored.")


def define_raw_text_flags():
  """--raw_text_file and --raw_output_file (run_ner.py, run_re.py); defined
  once however many runners are imported."""
  if "raw_text_file" in FLAGS:
    return
  flags.DEFINE_string(
      "raw_text_file", None,
      "Raw text to predict with the model in --output_dir. run_ner.py: plain "
      "text, one sentence or paragraph a line; writes JSON Lines of the "
      "entities found. run_re.py: JSON Lines {\"text\": ..., \"entities\": "
      "[{\"start\", \"end\", \"type\"}, ...]} (run_ner.py's "
      "raw_text_predictions.jsonl, typed; see its --entity_type); every pair "
      "of entities of the "
      "task's two types is masked as the data sets mask them (@GENE$, "
      "@DISEASE$, @CHEMICAL$) and classified.")
  flags.DEFINE_string(
      "raw_output_file", None,
      "Where --raw_text_file results go (default: <output_dir>/"
      "raw_text_predictions.jsonl for run_ner.py, raw_re_predictions.jsonl "
      "for run_re.py).")
