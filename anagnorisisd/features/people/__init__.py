"""People: the faces found in the photos, grouped into people the person can name."""
