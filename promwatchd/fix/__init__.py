"""Named, explained corrections for common prometheus.yml mistakes, and salvage of the jobs that still work."""

from promwatchd.fix.engine import fix_config_text
from promwatchd.fix.model import Correction, FixResult

__all__ = ["Correction", "FixResult", "fix_config_text"]
