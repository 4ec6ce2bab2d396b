"""CLI output a user pipes or reads: rows kept whole, keys readable."""

import subprocess
import sys

from eventyard.cli.replay import shown_key
from tests.conftest import REPO


def test_tables_piped_to_another_program_keep_whole_rows():
    # `eventyard events | less`: rich used to lay the table out for 80 columns and cut it.
    result = subprocess.run([sys.executable, "-m", "eventyard", "events", "order_saga"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "a customer placed an order: starts the saga" in result.stdout
    assert "…" not in result.stdout


def test_an_operators_key_is_shown_with_its_operator_and_a_visible_separator():
    assert shown_key("documents_watch\x1floan-7") == "documents_watch:loan-7"
    assert shown_key("order-000042") == "order-000042"
