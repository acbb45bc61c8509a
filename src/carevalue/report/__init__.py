"""The static HTML report: one self-contained file built from the store's engine tables."""

from carevalue.report.build import build_report

__all__ = ["build_report"]
