"""Modules stay under 400 code lines (STYLE.md 4.3): split by concern, never by squeezing."""

import io
import pathlib
import tokenize

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILE_LIMIT = 400
CODE = (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING)
STATEMENT_START = (tokenize.INDENT, tokenize.NEWLINE, tokenize.DEDENT)
SOURCE_DIRS = ("sparsegraph", "ops", "gnn", "datasets")
FILES = sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


def code_lines(path: pathlib.Path) -> int:
    """Lines holding code tokens; comments, blank lines and docstrings do not count."""
    counted, prev = set(), tokenize.INDENT
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        docstring = tok.type == tokenize.STRING and prev in STATEMENT_START
        if tok.type in CODE and not docstring:
            counted.update(range(tok.start[0], tok.end[0] + 1))
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            prev = tok.type
    return len(counted)


def test_code_lines_counts_code_only(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('"""doc\nstring"""\n\n# comment\nx = 1\n\n\n'
                 'def f():\n    """doc"""\n    return x\n')
    assert code_lines(f) == 3


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_size(path):
    n = code_lines(path)
    name = path.relative_to(ROOT)
    assert n <= FILE_LIMIT, f"{name} has {n} code lines (limit {FILE_LIMIT}); split it by concern"
