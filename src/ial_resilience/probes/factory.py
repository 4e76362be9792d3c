"""Build a runnable probe from the spec's ``ProbeSpec`` (one place that knows both sides)."""

from __future__ import annotations

from ial_resilience.probes.base import Probe
from ial_resilience.probes.command import CommandConfig, CommandProbe
from ial_resilience.probes.http import HttpConfig, HttpProbe
from ial_resilience.probes.metric import MetricConfig, MetricProbe
from ial_resilience.probes.process import ProcessConfig, ProcessProbe
from ial_resilience.probes.sql import SqlConfig, SqlProbe
from ial_resilience.probes.tcp import TcpConfig, TcpProbe
from ial_resilience.spec import models as spec

SUPPORTED_KINDS = frozenset(kind.value for kind in spec.ProbeKind)


def build_probe(probe: spec.ProbeSpec) -> Probe:
    """A probe ready to sample; the caller closes it."""
    config = probe.config
    name = probe.label
    if isinstance(config, spec.HttpProbe):
        return HttpProbe(
            HttpConfig(
                url=config.url,
                method=config.method.value,
                timeout=config.timeout,
                expect_status=tuple(config.expect_status),
                headers=tuple(config.headers.items()),
                body=config.body,
                name=name,
            )
        )
    if isinstance(config, spec.TcpProbe):
        address = config.address
        return TcpProbe(TcpConfig(address.host, address.port, config.timeout, name))
    if isinstance(config, spec.SqlProbe):
        return SqlProbe(SqlConfig(config.dsn, config.query, config.timeout, name))
    if isinstance(config, spec.ProcessProbe):
        return ProcessProbe(
            ProcessConfig(config.pid, config.name, config.match, config.min_count, name)
        )
    if isinstance(config, spec.MetricProbe):
        return MetricProbe(
            MetricConfig(
                config.url, config.metric, tuple(config.labels.items()), config.timeout, name
            )
        )
    return CommandProbe(CommandConfig(tuple(config.argv), config.timeout, config.expect_exit, name))
