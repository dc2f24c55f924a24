"""`python -m costmodel` runs the command line."""

from .cli import main

main()
