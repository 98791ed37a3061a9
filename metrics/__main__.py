"""`python -m metrics`: run the metrics service."""

from metrics.server import main

main()
