"""Ratings and the evaluator: the person rates photos 0-10 and a model learns to rate the
rest the way they would."""
