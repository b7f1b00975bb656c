"""The campaign's data: peewee models, one file per aggregate, bound to a database at start."""
