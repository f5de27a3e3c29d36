"""promwatchd: a supervisor that keeps one Prometheus server healthy."""

__version__ = "0.1.0"
