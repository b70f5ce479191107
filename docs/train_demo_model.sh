#!/usr/bin/env bash
# Reproduce the bundled demo model lstmviz/data/wiki_lstm.pt (see docs/demo-model.md).
# Needs the Wikipedia corpus split (wiki.train.txt, wiki.val.txt); pass their folder as $1.
# On a GPU this takes the 7.5 minutes it is given; on a CPU raise --time-limit a lot.
set -euo pipefail
corpora=${1:-../shared/corpora}
lstmviz train "$corpora/wiki.train.txt" --val "$corpora/wiki.val.txt" -o wiki_lstm.pt \
    --layers 3 --hidden 256 --embed 64 --dropout 0.1 --min-count 20 \
    --batch-size 128 --seq-len 128 --epochs 1000 --time-limit 7.5 --eval-every 250 \
    --device auto --seed 0
