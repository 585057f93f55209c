# coding=utf-8
r"""BioBERT named entity recognition: fine-tune, evaluate, predict and score.

    python run_ner.py --do_train=true --do_eval=true \
      --vocab_file=$BIOBERT_DIR/vocab.txt \
      --bert_config_file=$BIOBERT_DIR/bert_config.json \
      --init_checkpoint=$BIOBERT_DIR/model.ckpt-1000000 \
      --num_train_epochs=10.0 --data_dir=$NER_DIR --output_dir=$OUTPUT_DIR

The data dir holds train_dev.tsv (training), devel.tsv (--do_eval) and
test.tsv (--do_predict), `token<TAB>tag` lines with a blank line between
sentences. Sentences longer than --max_seq_length word pieces are split into
windows at word boundaries, so every word is trained on and predicted.

--do_predict writes token_test.txt, label_test.txt (the original formats),
NER_result_conll.txt (what biocodes/ner_detokenize.py writes) and
ner_scores.json, and prints the token-level and entity-level (conlleval)
scores. --raw_text_file tags plain text with the model in --output_dir.
"""



import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines

from absl import flags

from finetuning import config as run_config
from finetuning import driver
from tasks import ner

run_config.define_flags(ner.NerOptions, **ner.FLAG_DEFAULTS)
FLAGS = flags.FLAGS


def main(_):
  ner.run(run_config.from_flags(FLAGS, ner.NerOptions))


if __name__ == "__main__":
  driver.start(main)
