"""The static report: a self-contained site (build_site) or one self-contained file (build_report),
built from a Workspace's queries."""

from carevalue.report.build import assemble, build_report
from carevalue.report.site import assemble_site, build_site

__all__ = ["assemble", "assemble_site", "build_report", "build_site"]
