"""Allow ``python -m lstmviz``."""

from lstmviz.cli import cli

cli()
