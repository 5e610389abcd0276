"""Pixels: the one bounded decode path and the conversions every stage shares."""
