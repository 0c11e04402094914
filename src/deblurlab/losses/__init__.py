"""Training losses; each returns ``(total, parts)``."""

from .mimo import MIMOLoss  # noqa: F401
