"""Running `sparsegraph ...` in tests: its status and error lines, and `--help` read back (the
text, each option on one line)."""

from __future__ import annotations

import pytest

from sparsegraph.cli import main


def run(argv: list[str]) -> int:
    """``main(argv)``'s status, argparse's refusals (SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def err_lines(capsys) -> list[str]:
    """The stderr lines of the last call, which must hold no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    return err.strip().splitlines()


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
