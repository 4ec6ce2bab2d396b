"""Every Python example in the docs imports Eventyard only through its public API
(`eventyard` and `eventyard.testing`, docs/api.md); nothing imports the old
top-level `config`, `state`, `operators` or `pipelines` packages."""

import re

from tests.conftest import REPO

PUBLIC = {"eventyard", "eventyard.testing"}
OLD_TOP_LEVEL = {"config", "state", "operators", "pipelines"}
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.M)


def test_doc_examples_import_only_the_public_api():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    offending = []
    for page in pages:
        for block in BLOCK.findall(page.read_text()):
            for match in IMPORT.finditer(block):
                module = match.group(1) or match.group(2)
                top = module.split(".")[0]
                if (top == "eventyard" and module not in PUBLIC) or top in OLD_TOP_LEVEL:
                    offending.append(f"{page.relative_to(REPO)}: {match.group(0).strip()}")
    assert offending == []
