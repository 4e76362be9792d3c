"""``ialr chaos``: validate, plan, run and clean up experiments.

Commands are defined in :mod:`chaos_spec` (validate, schema) and :mod:`chaos_run`
(run, cleanup) and registered on this group.
"""

from __future__ import annotations

import typer

from ial_resilience.cli import chaos_run, chaos_spec

app = typer.Typer(
    help="Chaos experiments: validate, run (with --dry-run), clean up.", no_args_is_help=True
)
chaos_spec.register(app)
chaos_run.register(app)
