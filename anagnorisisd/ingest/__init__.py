"""What is on disk, and what changed: the reconciling scan, the live watcher, and the rules
for reading a library that cannot be trusted (safe_io)."""
