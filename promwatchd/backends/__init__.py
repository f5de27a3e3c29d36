"""Backends run, stop and watch the supervised Prometheus."""
