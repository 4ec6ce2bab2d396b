"""Metrics, tracing and log context: used by every layer above `eventyard.core`."""
