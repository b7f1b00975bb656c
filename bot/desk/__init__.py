"""The office's desk (/desk): the 督查室's PC page for 立项, the review queue, items one by one
(一事一档), print-outs, and units and people. It reads the one computed state
(reminders/state.py) and changes nothing itself: every change is an action (bot/actions)."""
