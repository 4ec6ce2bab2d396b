"""Generated order traffic with known expected outcomes (demo, tests, bench)."""
