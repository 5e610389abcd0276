"""People: faces grouped into people, named and corrected by the person, kept by content."""
