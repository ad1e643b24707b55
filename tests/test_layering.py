"""Dependencies point one way: engine <- kernelfs <- runtime/fs <- cli (style.md item 4).

An ast scan of every module's imports; it fails on any back-edge.
"""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "procnet"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    pkg = ".".join(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                out.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                out.add(node.module)
    return out


def modules(sub: str = "") -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


FORBIDDEN_IN_ENGINE = ("procnet.fs", "procnet.kernelfs", "procnet.runtime", "procnet.cli",
                       "mfusepy", "fuse", "click", "threading", "time", "asyncio")


@pytest.mark.parametrize("path", modules("engine"), ids=lambda p: p.name)
def test_engine_imports_nothing_above_it(path):
    bad = [m for m in imports_of(path)
           if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IN_ENGINE)]
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", modules("kernelfs"), ids=lambda p: p.name)
def test_kernelfs_does_not_import_fuse_or_cli(path):
    bad = [m for m in imports_of(path)
           if m.startswith(("procnet.fs", "procnet.cli", "mfusepy", "click"))]
    assert not bad, f"{path.name} imports {bad}"


def test_only_the_glue_imports_the_fuse_binding():
    users = [p.relative_to(PKG).as_posix() for p in modules()
             if any(m.startswith("mfusepy") or m == "fuse" for m in imports_of(p))]
    assert users == ["fs/glue.py"]


def test_only_the_cli_imports_click():
    users = [p.relative_to(PKG).as_posix() for p in modules()
             if any(m == "click" or m.startswith("click.") for m in imports_of(p))]
    assert users == ["cli.py"]


def test_the_scan_sees_imports():
    # The test above must be able to fail: the scanner finds a known import.
    assert "procnet.engine.machine" in imports_of(PKG / "runtime.py")
