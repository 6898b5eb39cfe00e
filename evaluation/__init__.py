"""Comprehensive evaluation (综合评价) kept as periods, revisions and snapshots: evaluation/README.md."""
