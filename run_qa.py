# coding=utf-8
r"""BioBERT question answering (BioASQ factoid, SQuAD format): train and predict.

    python run_qa.py --do_train=True --do_predict=True \
      --vocab_file=$BIOBERT_DIR/vocab.txt \
      --bert_config_file=$BIOBERT_DIR/bert_config.json \
      --init_checkpoint=$BIOBERT_DIR/model.ckpt-1000000 \
      --max_seq_length=384 --train_batch_size=12 --learning_rate=5e-6 \
      --doc_stride=128 --num_train_epochs=5.0 --do_lower_case=False \
      --train_file=$QA_DIR/BioASQ-train-factoid-4b.json \
      --predict_file=$QA_DIR/BioASQ-test-factoid-4b-1.json \
      --output_dir=$OUTPUT_DIR

Writes predictions.json and nbest_predictions.json as BERT's SQuAD code did.
With --golden_file (a BioASQ golden JSON) it also writes the BioASQ answer
file (biocodes/transform_nbset2bioasqform.py) and prints the factoid scores
(biocodes/bioasq_eval.py), in the same run.
"""


import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines

from absl import flags

from finetuning import config as run_config
from finetuning import driver
from tasks import qa

run_config.define_flags(qa.QaOptions, **qa.FLAG_DEFAULTS)
FLAGS = flags.FLAGS


def main(_):
  qa.run(run_config.from_flags(FLAGS, qa.QaOptions))


if __name__ == "__main__":
  driver.start(main)
