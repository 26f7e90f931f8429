"""Constructor argument checks for the layers: a wrong type is named with the argument, the
expected type and the value given, instead of failing later in a comparison or a cast."""

from __future__ import annotations

import numpy as np


def check_int(cls: str, name: str, value, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{cls}: expected an int {name} (got {type(value).__name__} {value!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{cls}: expected {name} >= {minimum} (got {value})")
    return int(value)


def check_number(cls: str, name: str, value, none_ok: bool = False) -> float | None:
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        expected = "a number or None" if none_ok else "a number"
        raise TypeError(f"{cls}: expected {name} to be {expected} (got {type(value).__name__} "
                        f"{value!r})")
    return float(value)


def check_bool(cls: str, name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{cls}: expected a bool {name} (got {type(value).__name__} {value!r})")
    return bool(value)
