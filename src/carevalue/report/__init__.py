"""The static HTML report: one self-contained file built from a Workspace's queries."""

from carevalue.report.build import assemble, build_report

__all__ = ["assemble", "build_report"]
