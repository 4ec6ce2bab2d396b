"""`python -m eventyard`: the same CLI as the `eventyard` script."""

from eventyard.cli.app import main

main()
