#!/usr/bin/env bash
# Serve every model of an export folder with TF Serving: REST on :8501, gRPC on :8500.
#   bash export/serve.sh EXPORT_DIR
# EXPORT_DIR is mounted read-only at /models; its models.config (written by `python -m tf_cyclegan.export` and
# `python -m tf_cyclegan.from_torch`) names its model folders and is passed as /models/models.config.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash export/serve.sh EXPORT_DIR (the folder that python -m tf_cyclegan.export --output wrote)" >&2
  exit 2
fi
if [ ! -f "$1/models.config" ]; then
  echo "serve.sh: $1 has no models.config; pass a folder that python -m tf_cyclegan.export or tf_cyclegan.from_torch wrote (an older export: export it again)" >&2
  exit 1
fi
export_dir=$(cd "$1" && pwd)
exec docker run --rm -p 8501:8501 -p 8500:8500 \
  -v "$export_dir":/models:ro \
  tensorflow/serving \
  --model_config_file=/models/models.config \
  --model_config_file_poll_wait_seconds=60
