"""Culling: bursts, brackets, panoramas and duplicates grouped, the keeper the person's
taste suggests, picks, rejects and colour labels, and the plan a cull shows first."""
