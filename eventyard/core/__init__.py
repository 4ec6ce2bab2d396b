"""The bottom layer: value types and errors every other layer shares.

Imports nothing of Eventyard's; `state`, `config`, `operators`, `pipelines`, the
Kafka edge and the applications all build on it.
"""
