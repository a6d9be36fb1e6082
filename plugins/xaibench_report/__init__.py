"""Reports people can look at: ``xaibench report EXPERIMENT`` writes a self-contained HTML
report (figures as PNG files beside it), and each combination's MLflow run gets a figure
of its attribution maps through the ``unit_artifacts`` hook.  See ``docs/reports.md``."""
