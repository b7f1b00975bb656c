"""The one home for every change of state of the 督办 campaign.

Each action is a function `(acting, typed inputs…) -> typed result` that checks what it is
given, writes, records the change in the audit log and queues the messages it causes, all inside
the caller's transaction; it refuses with `Refused` (a Chinese sentence) before writing anything.
Chat commands, the importer, card clicks, the board and the worker parse what they receive and
call these functions; nothing else writes the campaign's tables. Views read `reminders.state`.

One module per subject: progress and review, deadlines and extensions, 交办, milestones, scores,
evidence, people and units, the calendar. `lookup` finds what a person may act on.
"""
