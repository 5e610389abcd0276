"""Search: the query language, the vector index and the search modes."""
