"""``python -m vecbridge``: the ``vecbridge`` command line."""

from vecbridge.cli import main

main()
