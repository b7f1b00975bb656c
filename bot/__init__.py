"""The bot: configuration, the inbound pipeline, commands, the outbox and the transports."""
