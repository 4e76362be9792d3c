"""``metric`` probe: reads a Prometheus text endpoint and takes the value of one sample.

The sample is chosen by its name (``http_requests_total``, or ``…_bucket``/``…_sum`` for
histograms) and, optionally, labels that must all match. Not found → a failed sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ial_resilience.probes.base import Outcome, Sample, describe, measure


@dataclass(frozen=True, slots=True)
class MetricConfig:
    url: str
    metric: str
    labels: tuple[tuple[str, str], ...] = ()
    timeout: float = 2.0
    name: str = ""


def find_sample(text: str, metric: str, labels: dict[str, str]) -> float | None:
    """Value of the first sample named ``metric`` whose labels include ``labels``."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != metric:
                continue
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


class MetricProbe:
    def __init__(self, config: MetricConfig) -> None:
        self.config = config
        self._labels = dict(config.labels)
        self._client = httpx.Client(timeout=config.timeout)

    @property
    def name(self) -> str:
        return self.config.name or f"metric {self.config.metric}"

    def _read(self) -> Outcome:
        try:
            response = self._client.get(self.config.url)
            response.raise_for_status()
            value = find_sample(response.text, self.config.metric, self._labels)
        except (httpx.HTTPError, ValueError) as exc:
            return None, False, describe(exc)
        if value is None:
            return None, False, f"no sample {self.config.metric}{self._labels or ''}"
        return value, True, None

    def sample(self) -> Sample:
        return measure(self._read)

    def close(self) -> None:
        self._client.close()
