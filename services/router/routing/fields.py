"""Reading a TOML document field by field, for the registry loader.

Every mistake is a `RegistryError` naming the field by its path
(`models[3].deployments[0].wieght: unknown field`); `Table.done()` rejects
whatever a reader did not ask for, so a misspelt field never passes silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["RegistryError", "Table"]


class RegistryError(ValueError):
    """The registry config is invalid; the message names the field."""


_MISSING: Any = object()


class Table:
    """A TOML table read field by field; `done()` rejects whatever was not read."""

    def __init__(self, path: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self._data = data
        self._seen: set[str] = set()

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise RegistryError(f"{self._at(key)}: required field is missing")
            return default
        return value

    def absent(self, key: str) -> bool:
        """Whether `key` is not given (it counts as read either way)."""
        self._seen.add(key)
        return key not in self._data

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise RegistryError(f"{self._at(unknown[0])}: unknown field")

    def string(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise RegistryError(f"{self._at(key)}: must be a string")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise RegistryError(f"{self._at(key)}: must be true or false")
        return value

    def integer(self, key: str, *, minimum: int, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise RegistryError(f"{self._at(key)}: must be an integer >= {minimum}")
        return value

    def number(self, key: str, *, default: Any = _MISSING, positive: bool = False) -> float:
        value = self._get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise RegistryError(f"{self._at(key)}: must be a number")
        if value < 0 or (positive and value == 0):
            raise RegistryError(f"{self._at(key)}: must be {'> 0' if positive else '>= 0'}")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        if self._data.get(key) is None:
            self._seen.add(key)
            return None
        return self.number(key)

    def strings(self, key: str, default: Any = _MISSING) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise RegistryError(f"{self._at(key)}: must be an array of strings")
        return list(value)

    def optional_table(self, key: str) -> Table | None:
        return None if self._data.get(key) is None else self.table(key)

    def table(self, key: str) -> Table:
        value = self._get(key, _MISSING)
        if not isinstance(value, Mapping):
            raise RegistryError(f"{self._at(key)}: must be a table")
        return Table(self._at(key), value)

    def array(self, key: str, *, required: bool = True) -> list[Table]:
        value = self._get(key, _MISSING if required else [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise RegistryError(f"{self._at(key)}: must be an array of tables")
        return [Table(f"{self._at(key)}[{i}]", v) for i, v in enumerate(value)]

    def subtables(self) -> Iterator[tuple[str, Table]]:
        for key in list(self._data):
            yield key, self.table(key)
