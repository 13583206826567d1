"""c2f_utils: the tested code behind the *Coarse to fine* book.

Notebooks import this package for models, data, the training loop, losses,
probes, cached runs and plots; no notebook logic lives anywhere else.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("c2f-utils")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
