"""The few statsmodels names the case-mix models use, imported from their modules rather than
``statsmodels.api`` (which loads every model statsmodels has: most of its import time)."""

from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.tools import add_constant

__all__ = ["GLM", "add_constant", "families"]
