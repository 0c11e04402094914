"""Training losses; each returns ``(total, parts)``."""

from .mimo import MIMOLoss  # noqa: F401
from .sgenet import SGENetLoss  # noqa: F401
