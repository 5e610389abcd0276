#!/usr/bin/env bash
# Every GPU figure in one short run, on a machine with an NVIDIA GPU (the README's "On a
# GPU" table comes from it). Each stage runs against its bare CUDA session on the same
# inputs, both through onnxruntime-gpu's CUDAExecutionProvider:
#   - CLIP: the clip stage (ViT-B/32 at its real size, random weights) vs one bare decode
#     plus the bare visual session, then the whole pipeline (bench_clip.py);
#   - faces: SCRFD-10G + ArcFace R50 at their real sizes vs the decode plus the bare
#     sessions (bench_faces.py --only-stage).
# Text (PP-OCR through rapidocr) runs on the CPU by design and is not part of this run.
#
# Needs: the test environment (`make setup-test`), onnxruntime-gpu able to load CUDA 12
# and cuDNN 9 (pip's nvidia-cublas-cu12, nvidia-cudnn-cu12, nvidia-cuda-runtime-cu12 and
# nvidia-cufft-cu12 wheels are enough), and bench/.cache's ViT-B/32 export, which is
# made here on the first run if absent (torch, a minute).
#
#   bench/gpu.sh [images]      # default 400 photos for CLIP, 8 copies of the face photos
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
IMAGES=${1:-400}
export BENCH_PROVIDERS="CUDAExecutionProvider,CPUExecutionProvider"
# pip's nvidia wheels put their libraries where the loader does not look by default
NV=$("$PY" -c 'import os, site; print(":".join(sorted({os.path.join(r, d) for s in site.getsitepackages() for r, ds, _ in os.walk(os.path.join(s, "nvidia")) for d in ds if d == "lib"})))' 2>/dev/null || true)
export LD_LIBRARY_PATH="${NV}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$PY" - <<'PY'
import onnxruntime as ort, numpy as np
from onnx import TensorProto, helper
graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
s = ort.InferenceSession(model.SerializeToString(), providers=["CUDAExecutionProvider"])
s.run(None, {"x": np.ones(1, np.float32)})
assert s.get_providers()[0] == "CUDAExecutionProvider", s.get_providers()
print("CUDA provider in use:", ort.get_device(), ort.__version__)
PY
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "== CLIP =="
"$PY" bench/bench_clip.py --images "$IMAGES"
echo "== faces =="
"$PY" bench/bench_faces.py --only-stage --copies 8
