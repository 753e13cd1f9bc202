"""The post-talk report: PNG charts and one self-contained HTML page from a recording.

``write_report`` reads the recording (and k6's JSON series beside it, ``talk.k6.json`` as
``show`` writes it, for the audience-side view: requests, failures, first byte as the phones
saw it), computes the numbers, draws the charts and writes the page.

Modules: ``data`` (pure: the recording's columns, key figures, k6's view), ``plots`` (the
matplotlib charts), ``page`` (the HTML), ``writer`` (``write_report``: reads the files, then
writes them).
"""

from tubedemo.screen.report.data import (
    K6Series,
    Series,
    Summary,
    k6_figures,
    k6_series,
    series,
    summarize,
)
from tubedemo.screen.report.plots import smooth
from tubedemo.screen.report.writer import ReportFiles, k6_files_beside, k6_view, write_report

__all__ = [
    "K6Series",
    "ReportFiles",
    "Series",
    "Summary",
    "k6_figures",
    "k6_files_beside",
    "k6_series",
    "k6_view",
    "series",
    "smooth",
    "summarize",
    "write_report",
]
