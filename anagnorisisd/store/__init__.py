"""The content-addressed store: LMDB tables, their records, the live census, migrations,
and the one-writer lock on the data directory. Everything above this layer keeps its state here."""
