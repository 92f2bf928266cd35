"""`python -m idp.cli`, as the `idp` command."""

from idp.cli import main

main()
