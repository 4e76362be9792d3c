"""``http`` probe: one request with a pooled httpx client; ok when the status is expected."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from ial_resilience.probes.base import Outcome, Sample, describe, measure


@dataclass(frozen=True, slots=True)
class HttpConfig:
    url: str
    method: str = "GET"
    timeout: float = 2.0
    expect_status: tuple[int, ...] = ()  # empty: any 2xx or 3xx
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    name: str = field(default="")


class HttpProbe:
    """Keeps one connection pool for the life of the probe (closed by :meth:`close`)."""

    def __init__(self, config: HttpConfig) -> None:
        self.config = config
        self._client = httpx.Client(
            timeout=config.timeout, headers=dict(config.headers), follow_redirects=False
        )

    @property
    def name(self) -> str:
        return self.config.name or f"http {self.config.method} {self.config.url}"

    def _status_ok(self, status: int) -> bool:
        if self.config.expect_status:
            return status in self.config.expect_status
        return 200 <= status < 400

    def _request(self) -> Outcome:
        try:
            response = self._client.request(
                self.config.method, self.config.url, content=self.config.body
            )
        except httpx.HTTPError as exc:
            return None, False, describe(exc)
        ok = self._status_ok(response.status_code)
        error = None if ok else f"unexpected status {response.status_code}"
        return float(response.status_code), ok, error

    def sample(self) -> Sample:
        return measure(self._request)

    def close(self) -> None:
        self._client.close()
