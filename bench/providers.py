"""Which ONNX Runtime providers the benchmarks run on: the CPU's, or those named in
BENCH_PROVIDERS (bench/gpu.sh sets "CUDAExecutionProvider,CPUExecutionProvider"), for the
stage and its bare session alike, so each ratio compares like with like."""

from __future__ import annotations

import os


def providers() -> list[str]:
    named = os.environ.get("BENCH_PROVIDERS", "")
    return [p.strip() for p in named.split(",") if p.strip()] or ["CPUExecutionProvider"]
