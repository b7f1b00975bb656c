"""A fresh database migrated up has exactly the schema the current models describe."""

from models.migrations import current_version, migrate, pending
from models.schema import ALL_MODELS


def _schema(db) -> dict:
    schema = {}
    for table in sorted(set(db.get_tables()) - {"schema_version"}):
        columns = sorted(
            (c.name, c.data_type.lower(), c.null, c.primary_key) for c in db.get_columns(table)
        )
        indexes = sorted((tuple(i.columns), i.unique) for i in db.get_indexes(table))
        fks = sorted((f.column, f.dest_table, f.dest_column) for f in db.get_foreign_keys(table))
        schema[table] = (columns, indexes, fks)
    return schema


def test_migrated_schema_equals_the_models(empty_db):
    assert pending(empty_db)
    migrate(empty_db)
    migrated = _schema(empty_db)
    assert not pending(empty_db) and current_version(empty_db) >= 1
    for model in reversed(ALL_MODELS):
        empty_db.execute_sql(f'DROP TABLE "{model._meta.table_name}"')
    empty_db.create_tables(ALL_MODELS)
    assert _schema(empty_db) == migrated
    assert set(migrated) == {m._meta.table_name for m in ALL_MODELS}


def test_migrate_twice_applies_nothing(empty_db):
    assert migrate(empty_db)
    assert migrate(empty_db) == []


def test_a_database_filled_under_the_previous_schema_is_carried_forward(empty_db):
    """Version 5 (before the 督办 cycle) with a unit, an item, a share with a deadline and
    progress, a two-role member, evidence and a pending extension: migrated to the current
    schema, nothing is lost and the new kinds of assignment fit beside the old rows."""
    from datetime import date

    from models.plan import Assignment
    from models.progress import Evidence, ExtensionRequest

    migrate(empty_db, upto=5)
    run = empty_db.execute_sql
    run("INSERT INTO unit (name, short_name, aliases, is_member, is_town, position) "
        "VALUES ('县市场监管局', '市监局', '', TRUE, FALSE, 1)")  # fmt: skip
    run("INSERT INTO unit_group (name, aliases, position) VALUES ('各镇人民政府', '', 1)")
    run("INSERT INTO item (code, kind, position, title, body, section, nature, method, sources, "
        "units_text, units_inferred) VALUES ('T7', 'task', 7, '一体化监管', '', '', '', '', '', "
        "'县市场监管局', FALSE)")  # fmt: skip
    run("INSERT INTO assignment (item_id, unit_id, role, via_group, deadline, status, progress, "
        "deadline_set_on) VALUES (1, 1, 'lead', '', '2026-12-31', 'open', 60, '2026-11-01')")  # fmt: skip
    run("INSERT INTO progress_report (assignment_id, wecom_userid, percent, note, kind, "
        "created_at) VALUES (1, 'li', 60, '初稿', 'progress', '2026-11-02 00:00:00')")  # fmt: skip
    run("INSERT INTO member (wecom_userid, display_name, unit_id, role, active, bound_at, "
        "bound_by) VALUES ('wang', '王', 1, 'leader|head', TRUE, '2026-11-01 00:00:00', 'boss')")  # fmt: skip
    run("INSERT INTO evidence (item_id, unit_id, assignment_id, wecom_userid, original_name, "
        "sha256, size, content_type, created_at, withdrawn_by) VALUES (1, 1, 1, 'li', 'a.pdf', "
        "'" + "a" * 64 + "', 10, 'application/pdf', '2026-11-02 00:00:00', '')")  # fmt: skip
    run("INSERT INTO extension_request (assignment_id, wecom_userid, old_deadline, "
        "requested_deadline, reason, status, decided_by, decision_note, created_at) VALUES "
        "(1, 'li', '2026-12-31', '2027-01-15', '等文件', 'pending', '', '', "
        "'2026-11-03 00:00:00')")  # fmt: skip
    assert migrate(empty_db)[0] == "v0006_duban_cycle"
    share = Assignment.get()
    assert (share.kind, share.slot, share.status, share.progress) == ("share", "share", "open", 60)
    assert share.deadline == date(2026, 12, 31) and share.role == "lead"
    assert share.item.source == "" and share.item.cancelled_at is None
    assert ExtensionRequest.get().kind == "extension"
    assert ExtensionRequest.get().requested_deadline == date(2027, 1, 15)
    assert Evidence.get().assignment_id == share.id
    from models.progress import ProgressReport

    assert ProgressReport.get().assignment_id == share.id  # a table rebuild cascades nothing
    from models.org import Member, UnitGroup

    assert Member.get().roles == {"leader", "head"}
    assert UnitGroup.get().confirmed_at is None
    # The same unit and item now hold a milestone beside the share.
    Assignment.create(
        item=1,
        unit=1,
        kind="milestone",
        slot="m1",
        parent=share,
        seq=1,
        deadline=date(2026, 12, 10),
    )
    assert Assignment.select().count() == 2


def test_a_database_filled_under_the_first_schema_is_carried_to_the_last(empty_db):
    """Version 1 with a row in the tables people fill first (a unit, an item, a share, a
    member, a report, a message in and its reply out, a score, an audit entry): every later
    migration, table rebuilds on SQLite included, keeps them and gives new columns their
    defaults."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from models.audit import AuditEntry
    from models.messages import InboundMessage, OutboxMessage
    from models.org import Member
    from models.plan import Assignment
    from models.progress import ProgressReport
    from models.scores import Score

    migrate(empty_db, upto=1)
    run = empty_db.execute_sql
    run("INSERT INTO unit (name, short_name, aliases, is_member, is_town, position) "
        "VALUES ('县市场监管局', '市监局', '', TRUE, FALSE, 1)")  # fmt: skip
    run("INSERT INTO item (code, kind, position, title, body, section, nature, method, sources, "
        "units_text, units_inferred) VALUES ('Z3', 'indicator', 3, '网络交易', '', '', '', '', '', "
        "'县市场监管局', FALSE)")  # fmt: skip
    run("INSERT INTO assignment (item_id, unit_id, role, via_group, deadline, status, progress) "
        "VALUES (1, 1, 'lead', '', '2026-12-31', 'open', 40)")  # fmt: skip
    run("INSERT INTO member (wecom_userid, display_name, unit_id, role, active, bound_at, "
        "bound_by) VALUES ('li', '李', 1, 'liaison', TRUE, '2026-11-01 00:00:00', 'boss')")  # fmt: skip
    run("INSERT INTO progress_report (assignment_id, wecom_userid, percent, note, kind, "
        "created_at) VALUES (1, 'li', 40, '过半', 'progress', '2026-11-02 00:00:00')")  # fmt: skip
    run("INSERT INTO inbound_message (transport, external_id, wecom_userid, kind, text, payload, "
        "status, received_at, processed_at) VALUES ('wecom', 'm1', 'li', 'text', '进度 Z3 四成', "
        "NULL, 'done', '2026-11-02 00:00:00', '2026-11-02 00:00:01')")  # fmt: skip
    run("INSERT INTO outbox_message (dedupe_key, channel, recipient, msg_type, content, status, "
        "attempts, last_error, created_at, sent_at, inbound_id) VALUES ('reply:1', 'member', "
        "'li', 'text', '{\"text\": \"已记录\"}', 'sent', 1, '', '2026-11-02 00:00:01', "
        "'2026-11-02 00:00:02', 1)")  # fmt: skip
    run("INSERT INTO score (item_id, points, reason, source, wecom_userid, created_at) VALUES "
        "(1, 1.5, '核定', 'office', 'boss', '2026-11-03 00:00:00')")  # fmt: skip
    run("INSERT INTO audit_entry (at, actor, action, item_code, unit_name, summary) VALUES "
        "('2026-11-02 00:00:00', 'li', 'progress', 'Z3', '县市场监管局', '进度 四成')")  # fmt: skip
    assert migrate(empty_db)[0] == "v0002_wecom"
    share = Assignment.get()
    assert (share.kind, share.status, share.progress, share.deadline) == (
        "share",
        "open",
        40,
        date(2026, 12, 31),
    )
    assert ProgressReport.get().assignment_id == share.id
    assert Member.get().roles == {"liaison"}
    inbound = InboundMessage.get()
    assert (inbound.status, inbound.lease_until) == ("done", None)
    reply = OutboxMessage.get()
    assert reply.content == {"text": "已记录"} and reply.inbound_id == inbound.id
    assert (reply.result, reply.expires_at, reply.failed_at) == (None, None, None)
    assert reply.sent_at == datetime(2026, 11, 2, 0, 0, 2, tzinfo=UTC)
    assert Score.get().points == Decimal("1.5")
    assert AuditEntry.get().summary == "进度 四成"


def test_migrations_keep_their_own_schema_and_ask_playhouse_for_the_migrator():
    """A migration must mean tomorrow what it means today: it imports neither the live models
    nor their field classes (anything of this project), and takes its migrator from
    `SchemaMigrator.from_database` instead of choosing one by database type itself."""
    import ast
    from pathlib import Path

    import models.migrations

    folder = Path(models.migrations.__file__).parent
    modules = sorted(folder.glob("v[0-9][0-9][0-9][0-9]_*.py"))
    assert len(modules) >= 9
    found = []
    for path in modules:
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if not node.level else ["(relative)"]
            for name in names:
                if name.split(".")[0] in ("models", "bot", "reminders", "(relative)"):
                    found.append(f"{path.name} imports {name}")
        for chosen in ("PostgresqlMigrator", "SqliteMigrator", "isinstance(db"):
            if chosen in source:
                found.append(f"{path.name} chooses its migrator itself ({chosen})")
        if "playhouse.migrate" in source and "SchemaMigrator.from_database(db)" not in source:
            found.append(f"{path.name} does not use SchemaMigrator.from_database")
    assert found == []


def test_a_lower_migration_missing_below_a_higher_one_is_pending(empty_db):
    """Branches merged in another order: a database got a higher number before a lower one
    existed. The lower one is pending (and `migrate` applies what is missing, version by
    version), though the newest applied is higher."""
    from models.migrations import _version_table

    migrate(empty_db)
    table = _version_table(empty_db)
    newest = current_version(empty_db)
    table.delete().where(table.version == 3).execute()  # as if 3 had come later
    names = pending(empty_db)
    assert len(names) == 1 and names[0].startswith("v0003_")
    assert current_version(empty_db) == newest
