"""The composition root: the Library that wires store, pipeline, watcher, model, search and
trainer together, plus what both faces (HTTP and CLI) present from it."""
