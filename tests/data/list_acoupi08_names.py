"""List the public names of an installed upstream acoupi, module by module.

Reads the source with ``ast`` (nothing is imported) and prints one
``module<TAB>name`` line per public name, sorted. A module's public names
are its ``__all__`` when it defines one, else its top-level public classes,
functions and UPPER_CASE constants. Command-line modules (``acoupi.cli``)
and ``__main__`` are left out.

Regenerate the committed list with::

    python tests/data/list_acoupi08_names.py \
        /work/up08/lib/python3.11/site-packages/acoupi \
        > tests/data/acoupi08_public_names.txt
"""

import ast
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Tuple


def module_name(package_dir: Path, path: Path) -> str:
    """Return the dotted module name of ``path`` inside the package."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def declared_all(tree: ast.Module) -> Optional[List[str]]:
    """Return the literal ``__all__`` of a module, or None if it has none."""
    for node in tree.body:
        targets: List[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = ast.literal_eval(node.value)  # type: ignore[arg-type]
            return [str(name) for name in value]
    return None


def top_level_names(tree: ast.Module) -> List[str]:
    """Return public classes, functions and UPPER_CASE constants defined here."""
    names: List[str] = []
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    names.append(target.id)
    return [name for name in names if not name.startswith("_")]


def public_names(package_dir: Path) -> Iterator[Tuple[str, str]]:
    """Yield ``(module, name)`` for every public name of the package."""
    for path in sorted(package_dir.rglob("*.py")):
        module = module_name(package_dir, path)
        if module.startswith("acoupi.cli") or module.endswith("__main__"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = declared_all(tree)
        for name in sorted(set(names if names is not None else top_level_names(tree))):
            yield module, name


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} PATH/TO/site-packages/acoupi", file=sys.stderr)
        return 2
    for module, name in public_names(Path(argv[1])):
        print(f"{module}\t{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
