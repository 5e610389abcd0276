"""Concepts and tags: words of the person's own ("our dog Rex") taught from a few photos,
and keywords other tools wrote, as one vocabulary of tags."""
