"""Chapter "Learnable label smoothing" (moved to :mod:`~c2f_utils.chapters.lls.experiments`)."""

from .experiments import *  # noqa: F403
from .experiments import __all__  # noqa: F401
