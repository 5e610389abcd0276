"""CLIP models in the immich-app layout: files on disk, preprocessing, tokenizer, ONNX
Runtime sessions, and the daemon's one model service."""
