"""Excel import, in three steps: `plan` reads the office's tables against the data and lists
typed changes (`changes`) and problems by sheet, row and cell, changing nothing; `report` puts
them in words; `apply` keeps the dry run and, on 导入 确认, makes the changes through the same
actions as the chat, after checking the data has not moved."""

from bot.importer.apply import (
    Applied,
    Confirmed,
    DryRun,
    ImportRefused,
    apply_changes,
    batch_changes,
    cancel_batch,
    confirm,
    dry_run,
    pending_batch,
)
from bot.importer.changes import Change, from_json
from bot.importer.plan import Plan, Problem, StaleImport, fingerprint, norm_title, plan_import
from bot.importer.report import (
    change_line,
    count_text,
    problem_dicts,
    problem_text,
    report_workbook,
    undone_extensions,
)

__all__ = [
    "Applied",
    "Change",
    "Confirmed",
    "DryRun",
    "ImportRefused",
    "Plan",
    "Problem",
    "StaleImport",
    "apply_changes",
    "batch_changes",
    "cancel_batch",
    "change_line",
    "confirm",
    "count_text",
    "dry_run",
    "fingerprint",
    "from_json",
    "norm_title",
    "pending_batch",
    "plan_import",
    "problem_dicts",
    "problem_text",
    "report_workbook",
    "undone_extensions",
]
