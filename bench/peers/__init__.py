"""The same workload on peer frameworks, for comparison (bench extra)."""
