"""The leaders' board (领导看板): a read-only web view of the campaign, opened inside WeCom.

access.py decides who is signed in and what they may see; pages.py reads what each page shows;
charts.py lays out its SVG charts; static/ holds its one stylesheet. The routes that serve it
under /board, with its own sign-in, are bot/web/board.py: this package knows no web framework.
"""
