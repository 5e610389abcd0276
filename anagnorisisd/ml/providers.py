"""Which ONNX Runtime execution providers can really run here, asked without ORT shouting.

onnxruntime-gpu lists CUDAExecutionProvider on every machine, and asking for it
where the CUDA libraries are missing prints a red "Failed to load library" error
before falling back to the CPU: a person reads that as a crash. So each
accelerator's provider library is first loaded with ctypes, which fails quietly
with the real reason (a missing libcublas, say); only providers that load are
asked for, and the choice is logged once, at INFO.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
from collections.abc import Iterable

import onnxruntime as ort

log = logging.getLogger(__name__)
PROVIDER_LIBRARIES = {
    "CUDAExecutionProvider": "libonnxruntime_providers_cuda.so",
    "TensorrtExecutionProvider": "libonnxruntime_providers_tensorrt.so",
    "ROCMExecutionProvider": "libonnxruntime_providers_rocm.so",
    "MIGraphXExecutionProvider": "libonnxruntime_providers_migraphx.so",
    "OpenVINOExecutionProvider": "libonnxruntime_providers_openvino.so",
}


@functools.cache
def why_not(provider: str) -> str | None:
    """None if the provider can be used here, else the reason it cannot."""
    if provider not in ort.get_available_providers():
        return "not in this onnxruntime build"
    library = PROVIDER_LIBRARIES.get(provider)
    if library is None:
        return None
    folder = os.path.join(os.path.dirname(ort.__file__), "capi")
    path = os.path.join(folder, library)
    if not os.path.exists(path):
        return f"{library} is not installed"
    try:
        shared = os.path.join(folder, "libonnxruntime_providers_shared.so")
        if os.path.exists(shared):
            ctypes.CDLL(shared, mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(path)
    except OSError as exc:
        return str(exc).split(":")[0] + " is missing" if ": cannot open" in str(exc) else str(exc)
    return None


_announced: set[tuple[str, ...]] = set()


def usable(wanted: Iterable[str]) -> list[str]:
    """The wanted providers that can run here, best first, CPU always last; said once."""
    wanted = list(wanted)
    chosen = [p for p in wanted if p != "CPUExecutionProvider" and why_not(p) is None]
    chosen.append("CPUExecutionProvider")
    key = tuple(wanted)
    if key not in _announced:
        _announced.add(key)
        skipped = [f"{p} ({why_not(p)})" for p in wanted
                   if p != "CPUExecutionProvider" and why_not(p) is not None]
        log.info("ONNX Runtime runs models on %s%s", chosen[0],
                 f"; not usable here: {', '.join(skipped)}" if skipped else "")
    return chosen
