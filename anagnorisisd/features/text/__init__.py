"""Text in photos: the words read in them, searched alone or with meaning."""
