"""Validation of Prometheus server configuration files (prometheus.yml), as Prometheus 3.x loads them."""

from promwatchd.promconfig.findings import ERROR, INFO, WARNING, Finding
from promwatchd.promconfig.validate import FileReport, validate_bytes, validate_file

__all__ = ["ERROR", "INFO", "WARNING", "Finding", "FileReport", "validate_bytes", "validate_file"]
