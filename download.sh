#!/usr/bin/env bash
# Downloads the BioBERT benchmark datasets or a pretrained weight set.
# ./download.sh --help lists everything; the work is done by download.py.
set -euo pipefail
exec python3 "$(dirname "$0")/download.py" "$@"
