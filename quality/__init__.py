"""Data quality: national code validators, contract suites, row-level verdicts, scorecards."""

__all__: list[str] = []
