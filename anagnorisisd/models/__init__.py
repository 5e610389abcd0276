"""CLIP models in the immich-app layout: files on disk, preprocessing, tokenizer, sessions."""
