"""Built-in pipeline stages, registered through the anagnorisisd.stages entry points."""
