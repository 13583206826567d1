"""Chapter "FIERCE": feature-entropy regularisation (Baena, Drumetz & Gripon 2022)."""

from .experiments import *  # noqa: F403
from .experiments import __all__, __doc__  # noqa: F401
