"""Joining items into groups by pairs (union-find): near-duplicates, review groups."""

from __future__ import annotations


class DisjointSet:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def joined_groups(keys: list[bytes], pairs: list[tuple[bytes, bytes]],
                  alone: list[bytes]) -> list[list[bytes]]:
    """The groups the pairs join `keys` into (two or more each, pairs naming anything else
    ignored), then each of `alone` not grouped yet as a group of its own."""
    position = {c: i for i, c in enumerate(keys)}
    sets = DisjointSet(len(keys))
    for a, b in pairs:
        if a in position and b in position:
            sets.union(position[a], position[b])
    members: dict[int, list[bytes]] = {}
    for i, content in enumerate(keys):
        members.setdefault(sets.find(i), []).append(content)
    groups = [m for m in members.values() if len(m) > 1]
    grouped = {c for m in groups for c in m}
    return groups + [[c] for c in alone if c not in grouped]
