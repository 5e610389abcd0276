"""The command-line face: argument parsing, the commands, and the small client that finds
and asks a running daemon."""
