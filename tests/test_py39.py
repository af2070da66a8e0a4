"""rfapi must run on FreePBX 16 boxes with Python 3.9: no newer syntax anywhere."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_files():
    files = sorted((ROOT / "rfapi").rglob("*.py")) + sorted((ROOT / "deploy").rglob("*.py"))
    assert len(files) > 10
    return files


def test_every_module_parses_as_python_39():
    bad = []
    for path in python_files():
        try:
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))
        except SyntaxError as exc:
            bad.append("%s:%s %s" % (path.relative_to(ROOT), exc.lineno, exc.msg))
    assert bad == []


def test_annotations_are_postponed():
    """``X | None`` in an annotation is only safe on 3.9 with postponed evaluation."""
    missing = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        uses_union = any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr)
                         for node in ast.walk(tree)
                         for ann in [getattr(node, "annotation", None), getattr(node, "returns", None)]
                         if ann is not None for n in ast.walk(ann))
        future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
                     and any(a.name == "annotations" for a in n.names) for n in tree.body)
        if uses_union and not future:
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []
