"""USD amounts: decimal strings on the wire, integer micro-dollars everywhere else (shared
by the key vault and the routers' limiter)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["MAX_MICROS", "format_usd", "parse_usd"]

_MICRO = Decimal("1000000")
MAX_MICROS = 10**15  # one billion dollars


def parse_usd(text: str, *, param: str = "budget_usd") -> int:
    """ "1.50" -> 1_500_000. Raises ValueError naming `param` when malformed or negative."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f'{param} must be a decimal amount of USD such as "1.50"') from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{param} must be a non-negative amount of USD")
    micros = int((value * _MICRO).to_integral_value())
    if micros > MAX_MICROS:
        raise ValueError(f"{param} is too large")
    return micros


def format_usd(micros: int) -> str:
    """1_500_000 -> "1.50"; 123 -> "0.000123" (at least two decimals, no trailing noise)."""
    text = f"{Decimal(micros) / _MICRO:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"
