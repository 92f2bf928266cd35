"""Connectors to outside systems, each behind a small typed Protocol (see base.py)."""
