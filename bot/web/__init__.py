"""HTTP: the WSGI app (`create_app`, bot/web/app.py) and its Blueprints: /healthz, the browser
sandbox (/sandbox) behind its doors, WeCom's callback (/wecom/callback) and the leaders' board
(/board). What the board shows and who may see it are bot/board's; these modules only serve."""

from bot.web.app import create_app

__all__ = ["create_app"]
