"""The web panel: plain ES modules, CSS and HTML, installed as package data of
anagnorisisd.panel (this folder is mapped there by pyproject.toml) and found through
importlib.resources."""
