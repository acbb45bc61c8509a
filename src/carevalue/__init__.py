"""carevalue: value-based health care delivery analytics (outcomes ÷ cost over the care cycle)."""

__version__ = "0.1.0"
