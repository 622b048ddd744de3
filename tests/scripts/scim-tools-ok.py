"""Exits 0 when every tool of scim-requirements.txt is installed at its pinned version (else 1)."""
import importlib.metadata as md
import pathlib
import sys

for line in (pathlib.Path(__file__).parent / "scim-requirements.txt").read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    try:
        if md.version(name) != version:
            sys.exit(1)
    except md.PackageNotFoundError:
        sys.exit(1)
