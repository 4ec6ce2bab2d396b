"""`python -m eventyard`: the same CLI as the `eventyard` script."""

import os
import sys
from pathlib import Path

from eventyard.importing import PACKAGE_ROOT

# `-m` puts the working directory first on sys.path, where a project's own `config`
# or `state` package would shadow Eventyard's; the CLI appends it again, after its
# own imports, for `module:attribute` pipelines (eventyard.importing.project_on_path).
# Kept when the working directory is where Eventyard's packages are (a checkout).
if sys.path and sys.path[0] in ("", os.getcwd()) and Path(sys.path[0] or ".").resolve() != PACKAGE_ROOT:
    del sys.path[0]

from eventyard.cli.app import main  # noqa: E402

main()
