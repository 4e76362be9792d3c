"""Run summaries and reports."""
