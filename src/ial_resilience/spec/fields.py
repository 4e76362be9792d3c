"""Field types shared by the experiment, suite and system models.

Durations are floats of seconds written as ``250ms``/``30s``/``5m``; each kind has bounds
(zero and absurd values are refused where they make no sense). URLs and ``host:port``
addresses are checked when the file is loaded, not when a probe first runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from ial_resilience.faults.vocabulary import DAY, DURATION_SCHEMA, duration_validator

HOUR = 3600.0


class SpecModel(BaseModel):
    """Base of every file model: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


FaultDuration = Annotated[float, duration_validator(maximum=DAY), DURATION_SCHEMA]
"""How long a fault stays applied: more than 0, at most 24 h."""
Offset = Annotated[float, duration_validator(allow_zero=True, maximum=DAY), DURATION_SCHEMA]
"""A start offset: 0 or more, at most 24 h."""
Timeout = Annotated[float, duration_validator(maximum=HOUR), DURATION_SCHEMA]
"""A probe timeout: more than 0, at most 1 h."""
Interval = Annotated[float, duration_validator(maximum=HOUR), DURATION_SCHEMA]
"""Time between samples or a window: more than 0, at most 1 h."""
Budget = Annotated[float, duration_validator(maximum=DAY), DURATION_SCHEMA]
"""A time budget (recovery): more than 0, at most 24 h."""


def check_http_url(value: Any) -> str:
    """``value`` if it is an http(s) URL with a host, a ``PydanticCustomError`` otherwise."""
    expected = "an http:// or https:// URL with a host, such as http://127.0.0.1:8080/health"
    if not isinstance(value, str):
        raise PydanticCustomError("url", expected)
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise PydanticCustomError("url", expected) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise PydanticCustomError("url", expected)
    return value


HttpUrl = Annotated[
    str,
    BeforeValidator(check_http_url),
    WithJsonSchema({"type": "string", "pattern": "^https?://"}),
]


@dataclass(frozen=True)
class Address:
    """A ``host:port`` network address (IPv6 hosts in brackets: ``[::1]:80``)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def as_tuple(self) -> tuple[str, int]:
        return (self.host, self.port)


ADDRESS_FORM = "a host:port address such as 127.0.0.1:5432"


def parse_address(text: str, *, allow_port_zero: bool = False) -> Address:
    """Parse ``host:port``; ``ValueError`` saying the expected form otherwise."""
    host, sep, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit():
        raise ValueError(ADDRESS_FORM)
    port = int(port_text)
    lowest = 0 if allow_port_zero else 1
    if not lowest <= port <= 65535:
        raise ValueError(f"{ADDRESS_FORM} with a port from {lowest} to 65535")
    return Address(host, port)


def _address_validator(allow_port_zero: bool) -> PlainValidator:
    def check(value: Any) -> Address:
        if isinstance(value, Address):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError("address", ADDRESS_FORM)
        try:
            return parse_address(value, allow_port_zero=allow_port_zero)
        except ValueError as error:
            raise PydanticCustomError("address", str(error)) from None

    return PlainValidator(check)


_ADDRESS_SCHEMA = WithJsonSchema({"type": "string", "pattern": r"^\S+:\d{1,5}$"})
AddressField = Annotated[
    Address, _address_validator(False), PlainSerializer(str, return_type=str), _ADDRESS_SCHEMA
]
"""``host:port`` with a port from 1 to 65535."""
ListenAddress = Annotated[
    Address, _address_validator(True), PlainSerializer(str, return_type=str), _ADDRESS_SCHEMA
]
"""``host:port`` where port 0 means "any free port"."""


def _argv(value: Any) -> tuple[str, ...]:
    import shlex

    expected = "a command: a list of strings, or one string split like a shell would"
    if isinstance(value, str):
        try:
            argv = tuple(shlex.split(value))
        except ValueError:
            raise PydanticCustomError("argv", expected) from None
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        argv = tuple(value)
    else:
        raise PydanticCustomError("argv", expected)
    if not argv:
        raise PydanticCustomError("argv", expected + " (not empty)")
    return argv


Argv = Annotated[
    tuple[str, ...],
    PlainValidator(_argv),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
"""A program and its arguments; a string is split with :func:`shlex.split` (no shell runs)."""


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_text)]
"""A string; numbers and booleans written bare in YAML are taken as their text."""
