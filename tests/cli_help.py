"""Reading `sparsegraph ... --help` back in tests: the text, and each option on one line."""

from __future__ import annotations

import pytest

from sparsegraph.cli import main


def help_text(argv: list[str], capsys, monkeypatch) -> str:
    """The stdout of ``sparsegraph *argv`` (a ``--help`` call, which exits 0)."""
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    return capsys.readouterr().out


def options(text: str) -> dict:
    """``--flag`` -> its usage and help on one line, from ``--help``'s output."""
    found, flag = {}, None
    section = next(b for b in text.split("\n\n") if b.startswith("options:"))
    for line in section.splitlines()[1:]:
        if line.startswith("  -"):
            flag = line.split()[0].rstrip(",")
            found[flag] = line.strip()
        else:
            found[flag] += " " + line.strip()
    return found
