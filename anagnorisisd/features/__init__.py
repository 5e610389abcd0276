"""The built-in features, each a package of its own, registered through the
``anagnorisisd.features`` entry-point group exactly as a third-party one would be
(pyproject.toml). Nothing outside a feature's package imports it: the registry finds
it, and features meet through the catalog, the store and the hub (docs/features.md)."""
