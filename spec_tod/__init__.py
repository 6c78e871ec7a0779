"""spec-tod: Spec-TOD task-oriented dialogue from corpus to scored benchmark."""

__version__ = "0.1.0"
