# coding=utf-8
r"""Concept normalization (BioSyn's training of BioBERT): fine-tune and predict.

    python run_norm.py --do_train=true --do_predict=true \
      --vocab_file=$BIOBERT_DIR/vocab.txt \
      --bert_config_file=$BIOBERT_DIR/bert_config.json \
      --init_checkpoint=$BIOBERT_DIR/model.ckpt-1000000 \
      --data_dir=../shared/data/official/NCBI-disease \
      --lexicon=../shared/data/official/lexicons/MEDIC/medic_06Jul2012.txt \
      --output_dir=$OUTPUT_DIR

The data dir holds a corpus in PubTator with concept IDs (NCBI-disease's
NCBI{train,develop,test}set_corpus.txt, BC5CDR's CDR_*Set.PubTator.txt, or
{train,dev,test}.pubtator). --do_predict ranks the lexicon's names for each
test mention and prints acc@1 and acc@5 beside a dictionary baseline and the
published numbers; it writes norm_scores.json, norm_predictions.jsonl and
test_predictions.pubtator (the test documents with the predicted IDs).
"""


import finetuning  # noqa: F401  first: quiets TensorFlow's C++ start-up lines

from absl import flags

from finetuning import config as run_config
from finetuning import driver
from tasks import norm

run_config.define_flags(norm.NormOptions, **norm.FLAG_DEFAULTS)
FLAGS = flags.FLAGS


def main(_):
  norm.run(run_config.from_flags(FLAGS, norm.NormOptions))


if __name__ == "__main__":
  driver.start(main)
