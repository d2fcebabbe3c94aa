"""The HTML report of a run folder: one self-contained file, rebuilt only from files on disk."""

from personax.report.builder import build_report, render_report

__all__ = ["build_report", "render_report"]
