"""Run the monitor's command line: `python -m web.monitor create-admin NAME`."""

from web.monitor.cli import app

app(prog_name="python -m web.monitor")
