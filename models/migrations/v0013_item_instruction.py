"""立项 with the source document (issue 22): a 交办 item keeps its 文号, the leader who gave the
instruction (批示领导, a userid), the instruction's words (原文) and its 紧急程度. Items already
stored have none of these and are 一般."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator, migrate


def up(db: peewee.Database) -> None:
    m = SchemaMigrator.from_database(db)
    migrate(
        m.add_column("item", "doc_no", peewee.CharField(max_length=64, default="")),
        m.add_column("item", "instructed_by", peewee.CharField(max_length=64, default="")),
        m.add_column("item", "instruction", peewee.TextField(default="")),
        m.add_column("item", "urgency", peewee.CharField(max_length=8, default="一般")),
    )
