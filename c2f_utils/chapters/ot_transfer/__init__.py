"""Chapter "Representation transfer by optimal transport" (Li et al., arXiv:2007.06737): see
:mod:`~c2f_utils.chapters.ot_transfer.experiments` (a transitional step of its split into modules)."""

from .experiments import *  # noqa: F403
from .experiments import __all__  # noqa: F401
