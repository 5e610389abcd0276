"""anagnorisisd: a local, private image-library assistant."""

__version__ = "0.1.0"
