"""Every model, in dependency order: what migrations must produce and tests compare against."""

from models.audit import AuditEntry
from models.board import BoardLink, BoardSession
from models.duty import DutyLease, MemberSend
from models.imports import ImportBatch
from models.messages import (
    InboundMessage,
    InteractiveCard,
    KeyValue,
    MediaDownload,
    OutboxMessage,
)
from models.org import GroupMember, Member, Unit, UnitGroup
from models.plan import Assignment, Category, Item
from models.progress import Evidence, ExtensionRequest, ProgressReport
from models.schedule import CalendarDay, CalendarYear, DigestSnapshot, ReminderSent
from models.scores import FigureReport, Score

ALL_MODELS = [
    Unit,
    UnitGroup,
    GroupMember,
    Member,
    Category,
    Item,
    Assignment,
    ProgressReport,
    Evidence,
    ExtensionRequest,
    FigureReport,
    Score,  # refers to the figures it was scored from
    InboundMessage,
    OutboxMessage,
    AuditEntry,
    KeyValue,
    MediaDownload,
    InteractiveCard,
    CalendarDay,
    CalendarYear,
    ReminderSent,
    DigestSnapshot,
    ImportBatch,
    BoardLink,
    BoardSession,
    DutyLease,
    MemberSend,
]
