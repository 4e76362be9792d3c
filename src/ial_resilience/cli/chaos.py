"""``ialr chaos``: validate, plan, run and clean up experiments.

Commands are defined in :mod:`chaos_spec` (validate, schema), :mod:`chaos_run`
(run, cleanup) and :mod:`chaos_aws` (render, stop, parity) and registered on this group.
"""

from __future__ import annotations

import typer

from ial_resilience.cli import chaos_aws, chaos_run, chaos_spec

app = typer.Typer(
    help="Chaos experiments: validate, run (local or on AWS FIS), render, stop, clean up, parity.",
    no_args_is_help=True,
)
chaos_spec.register(app)
chaos_run.register(app)
chaos_aws.register(app)
