"""Chapter "Synthesis": every criterion of the book on one coarse-to-fine benchmark (:mod:`.experiments`)."""

from .experiments import *  # noqa: F403
from .experiments import __all__  # noqa: F401
