# coding=utf-8
r"""BioBERT relation extraction (GAD, EU-ADR, ChemProt): fine-tune and predict.

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
probabilities, one line per test example) and prints the scores of
biocodes/re_eval.py; --do_eval writes eval_results.txt. Run all folds with
biocodes/run_re_folds.py.
"""


import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines

from absl import flags

from finetuning import config as run_config
from finetuning import driver
from tasks import relations

run_config.define_flags(relations.ReOptions, **relations.FLAG_DEFAULTS)
FLAGS = flags.FLAGS


def main(_):
  relations.run(run_config.from_flags(FLAGS, relations.ReOptions))


if __name__ == "__main__":
  driver.start(main)
