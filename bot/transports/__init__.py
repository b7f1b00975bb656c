"""Transports: how messages reach people. Each implements `Transport` from base.py."""
