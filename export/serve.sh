#!/usr/bin/env bash
# Serve both generators of an export with TF Serving: REST on :8501, gRPC on :8500.
#   bash export/serve.sh EXPORT_DIR
set -euo pipefail
export_dir=$(cd "${1:?usage: serve.sh EXPORT_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
exec docker run --rm -p 8501:8501 -p 8500:8500 \
  -v "$export_dir":/models:ro \
  -v "$here/models.config":/config/models.config:ro \
  tensorflow/serving \
  --model_config_file=/config/models.config \
  --model_config_file_poll_wait_seconds=60
