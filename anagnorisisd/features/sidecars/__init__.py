"""XMP sidecars shared with the other photo tools, both ways, live."""
