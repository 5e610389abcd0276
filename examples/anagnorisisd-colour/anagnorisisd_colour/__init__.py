"""Search photos by colour: an example of a third-party anagnorisisd feature."""
