"""The whole pipeline on a tiny model on the CPU: ``spec-tod quickstart`` (see :mod:`spec_tod.quickstart.pipeline`)."""

from spec_tod.quickstart.pipeline import QuickstartOptions, QuickstartResult, StageResult, run_quickstart

__all__ = ["QuickstartOptions", "QuickstartResult", "StageResult", "run_quickstart"]
