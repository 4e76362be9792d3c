"""Providers: ``local`` (the agent) and ``memory`` (an in-process double for tests)."""
