"""Convert the development model's GGUF (SmolLM2-135M-Instruct, Q4_1) to a safetensors
folder that vLLM can load: vLLM cannot load GGUF on the CPU.

Run with the vLLM venv's Python (transformers + gguf + accelerate):
    python convert.py GGUF_FILE OUT_DIR
transformers dequantizes the GGUF while loading; the result is saved in bfloat16.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# SmolLM2's chat format (ChatML), used if the GGUF's own template does not come through.
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def say(message: str) -> None:
    print(f"[vllm-lane] {message}", flush=True)  # noqa: T201 - a command-line script


def gguf_metadata(path: Path) -> dict:
    from gguf import GGUFReader

    wanted = ("tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id")
    reader = GGUFReader(str(path))
    values = {}
    for key in wanted:
        field = reader.fields.get(key)
        if field is not None:
            values[key] = field.parts[field.data[0]].tolist()[0]
    return values


def main(gguf_file: str, out_dir: str) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf_file).resolve()
    out = Path(out_dir)
    marker = out / "converted-from.json"
    if marker.exists() and json.loads(marker.read_text()).get("gguf") == str(gguf):
        say(f"{out} is already converted")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, torch_dtype=torch.bfloat16
    )
    # The weights are plain tensors now: no quantizer may be written into the config.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)

    meta = gguf_metadata(gguf)
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", False))
    if hasattr(tokenizer, "add_bos_token"):
        tokenizer.add_bos_token = add_bos
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(out)
    (out / "chat_template.jinja").write_text(tokenizer.chat_template)

    probe = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    say(f"GGUF metadata: {meta}; tokenizer add_bos_token={add_bos}")
    say(f"chat template renders: {probe!r}")
    marker.write_text(json.dumps({"gguf": str(gguf)}))
    say(f"saved safetensors and tokenizer to {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: convert.py GGUF_FILE OUT_DIR")
    sys.exit(main(sys.argv[1], sys.argv[2]))
