"""Albums: manual ones by content, smart ones by a query, memories, recently added."""
