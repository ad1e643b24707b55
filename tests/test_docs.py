"""docs/files.md is generated from the file table and must be current."""
from pathlib import Path

from procnet.kernelfs import docgen

ROOT = Path(__file__).resolve().parents[1]


def test_files_md_is_current():
    committed = (ROOT / "docs" / "files.md").read_text()
    assert committed == docgen.render(), \
        "docs/files.md is stale: run `python -m procnet.kernelfs.docgen > docs/files.md`"


def test_every_entry_names_its_kernel_source_and_meaning():
    for e in docgen.TABLE:
        assert e.kernel and e.doc, e.path
