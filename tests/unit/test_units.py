import pytest

from ial_resilience.units import format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1.5s", 1.5), ("100us", 1e-4)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "fast", "-1s", "1 sec", 30])
def test_parse_duration_refuses(text: object) -> None:
    with pytest.raises(ValueError, match=r"expected|is not"):
        parse_duration(text)  # type: ignore[arg-type]


def test_parse_size() -> None:
    assert parse_size("64MiB") == 64 * 1024 * 1024
    assert parse_size("1GB") == 10**9
    assert parse_size(512) == 512
    with pytest.raises(ValueError):
        parse_size("lots")


def test_format_duration() -> None:
    assert format_duration(0.25) == "250ms"
    assert format_duration(12.34) == "12.3s"
    assert format_duration(245) == "4m05s"
