"""The person's taste: the evaluator candidates and the trainer that picks, fits and uses one."""
