"""Mutation testing of the pricing core, the adapters and the guard (issue 10, item 7).

Each mutant is one small, realistic edit of one module: a comparison's boundary or sense
(``<`` -> ``<=``, ``==`` -> ``!=``, ``in`` -> ``not in``), an arithmetic operator (``+`` -> ``-``,
``*`` -> ``/``), ``and`` <-> ``or``, a dropped ``not``, an integer constant off by one, ``True``
<-> ``False``, or a statement left out (a call made for its effect, an attribute update, an
``x += y``). Log calls, error messages, ``raise`` and ``assert`` statements, annotations and
``__slots__`` are not mutated: an edit there changes no result anyone could test for, only how
a failure reads.

The run works on scratch copies of the tree (never on the working tree): for each mutant it
writes the mutated module into a copy, runs the module group's tests there with ``-x -q`` and a
timeout (``PYTHONPATH`` points at the copy, bytecode caching is off so an edit that keeps a
file's size is never hidden by a stale ``.pyc``), and puts the original back. A mutant is
*killed* when the tests fail (or cannot even be collected), *survives* when they pass, and
*times out* when they run past three times the group's baseline (+ 20 s): a timeout counts as
killed (the mutant hangs a test) but is reported apart.

Not part of CI (a full run takes about an hour on 2 cores). Run it from the repository root:

    python bench/mutate.py --list                      # the mutants, no tests run
    python bench/mutate.py --jobs 2                    # every mutant, 2 copies at a time
    python bench/mutate.py --group guard --jobs 2      # one group
    python bench/mutate.py --only costmodel/guard/policy.py
    python bench/mutate.py --report                    # the summary of the results so far
    python bench/mutate.py --rerun survived            # the survivors again, after new tests

Results go to ``--out`` (JSON lines, default ``/tmp/costmodel-mutate/results.jsonl``); a run
started again skips the mutants already there, so it can be stopped and resumed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GUARD_TESTS = ("tests/guard/test_session.py", "tests/guard/test_projector.py",
               "tests/guard/test_policy.py", "tests/guard/test_trackers.py",
               "tests/guard/test_trust.py", "tests/hooks", "tests/ledger/test_spool.py")
# group -> (modules, tests). Each group's tests are the ones that exercise its modules without
# a network (the relay's end-to-end tests are left out: they take minutes, and every guard
# decision they see is made by the modules tested here). The modules' own doctests run too.
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "core": (("costmodel/core/usage.py", "costmodel/core/rates.py",
              "costmodel/core/catalog.py", "costmodel/core/pricing.py",
              "costmodel/core/tokens.py", "costmodel/core/_parse_cache.py"),
             ("tests/core", "tests/adapters", "tests/guard/test_session.py")),
    "adapters": (tuple(f"costmodel/adapters/{p.name}"
                       for p in sorted((ROOT / "costmodel/adapters").glob("*.py"))
                       if p.name != "__init__.py"),
                 ("tests/adapters", "tests/guard/test_trackers.py", "tests/hooks")),
    "guard": (("costmodel/guard/session.py", "costmodel/guard/projector.py",
               "costmodel/guard/policy.py", "costmodel/guard/ledger_link.py",
               *(f"costmodel/guard/trackers/{p.name}"
                 for p in sorted((ROOT / "costmodel/guard/trackers").glob("*.py"))
                 if p.name != "__init__.py")),
              GUARD_TESTS),
}

_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
            ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
          ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_BOOLOP = {ast.And: ast.Or, ast.Or: ast.And}
_LOGGERS = {"log", "logger", "logging", "warnings"}


@dataclass(frozen=True)
class Mutant:
    path: str       # the module, relative to the repository root
    index: int      # its place among the module's mutation sites
    line: int
    kind: str       # compare, binop, boolop, not, constant, delete
    change: str     # what the edit does, e.g. "< -> <="
    source: str     # the original line

    @property
    def id(self) -> str:
        text = f"{self.path}:{self.index}:{self.kind}:{self.change}:{self.source.strip()}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def _op(op: ast.AST) -> str:
    return {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
            ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
            ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.And: "and",
            ast.Or: "or"}[type(op)]


def _is_log_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id in _LOGGERS


class _Sites(ast.NodeTransformer):
    """Walks a module in a fixed order; numbers each mutation site; with `target`, applies
    the edit at that site (and only there)."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.count = 0
        self.found: list[tuple[int, str, str]] = []   # (line, kind, change) per site
        self.applied = False

    def _site(self, node: ast.AST, kind: str, change: str) -> bool:
        """Number a site; True if it is the one to mutate."""
        index = self.count
        self.count += 1
        self.found.append((getattr(node, "lineno", 0), kind, change))
        if index == self.target:
            self.applied = True
            return True
        return False

    # -- what is never mutated ----------------------------------------------------------------
    def _skip(self, node: ast.AST) -> ast.AST:
        return node

    visit_Raise = visit_Assert = visit_JoinedStr = visit_Import = visit_ImportFrom = _skip

    def visit_Call(self, node: ast.Call) -> ast.AST:
        return node if _is_log_call(node) else self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        # decorators, arguments' annotations and the return annotation are left alone;
        # defaults and the body are mutated
        args = node.args
        args.defaults = [self.visit(d) for d in args.defaults]
        args.kw_defaults = [None if d is None else self.visit(d) for d in args.kw_defaults]
        node.body = self._body(node.body)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if "__slots__" in names or "__all__" in names:
            return node
        return self.generic_visit(node)

    def visit_If(self, node: ast.If) -> ast.AST:
        test = node.test
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            return node
        node.test = self.visit(node.test)
        node.body = self._body(node.body)
        node.orelse = self._body(node.orelse)
        return node

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, stmt in enumerate(body):
            docstring = (i == 0 and isinstance(stmt, ast.Expr)
                         and isinstance(stmt.value, ast.Constant)
                         and isinstance(stmt.value.value, str))
            if (not docstring and self._deletable(stmt)
                    and self._site(stmt, "delete", "statement left out")):
                out.append(ast.copy_location(ast.Pass(), stmt))
                continue
            if docstring:
                out.append(stmt)
            else:
                out.append(self.visit(stmt))
        return out

    @staticmethod
    def _deletable(stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.Expr):
            return isinstance(stmt.value, ast.Call) and not _is_log_call(stmt.value)
        if isinstance(stmt, ast.AugAssign):
            return True
        if isinstance(stmt, ast.Assign):
            return all(isinstance(t, ast.Attribute | ast.Subscript) for t in stmt.targets)
        return False

    # visit the statements of every other compound statement through _body too
    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, old in ast.iter_fields(node):
            if isinstance(old, list) and old and all(isinstance(x, ast.stmt) for x in old):
                setattr(node, field, self._body(old))
            elif isinstance(old, list):
                new = []
                for value in old:
                    if isinstance(value, ast.AST):
                        value = self.visit(value)
                        if value is None:
                            continue
                    new.append(value)
                old[:] = new
            elif isinstance(old, ast.AST):
                setattr(node, field, self.visit(old))
        return node

    # -- what is ------------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            new = _COMPARE.get(type(op))
            if new is not None and self._site(node, "compare", f"{_op(op)} -> {_op(new())}"):
                node.ops[i] = new()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        new = _BINOP.get(type(node.op))
        # "%" on a string is formatting, not arithmetic
        text = isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
        if new is not None and not text and self._site(
                node, "binop", f"{_op(node.op)} -> {_op(new())}"):
            node.op = new()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        new = _BINOP.get(type(node.op))
        if new is not None and self._site(node, "binop", f"{_op(node.op)}= -> {_op(new())}="):
            node.op = new()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        new = _BOOLOP[type(node.op)]
        if self._site(node, "boolop", f"{_op(node.op)} -> {_op(new())}"):
            node.op = new()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, "not", "not dropped"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._site(node, "constant", f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int):
            new = 1 if value == 0 else value + 1
            if self._site(node, "constant", f"{value} -> {new}"):
                return ast.copy_location(ast.Constant(new), node)
        return node


def mutants_of(path: str) -> list[Mutant]:
    text = (ROOT / path).read_text()
    lines = text.splitlines()
    sites = _Sites()
    sites.visit(ast.parse(text))
    return [Mutant(path, i, line, kind, change, lines[line - 1] if 0 < line <= len(lines) else "")
            for i, (line, kind, change) in enumerate(sites.found)]


def mutated_source(path: str, index: int) -> str:
    sites = _Sites(index)
    tree = sites.visit(ast.parse((ROOT / path).read_text()))
    assert sites.applied, (path, index)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def unparsed_source(path: str) -> str:
    """The module as `ast.unparse` writes it, unmutated: the baseline a mutant differs from
    by its edit alone."""
    return ast.unparse(ast.parse((ROOT / path).read_text())) + "\n"


# -- running ----------------------------------------------------------------------------------
_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache",
                                 ".mypy_cache", ".ruff_cache", ".hypothesis", ".benchmarks",
                                 ".litellm-venv", "node_modules")


def make_copy(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT, dest, ignore=_IGNORE)
    return dest


def run_tests(copy: Path, tests: tuple[str, ...], modules: tuple[str, ...],
              timeout: float) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout', seconds, the tail of the output)."""
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1",
               PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="cm-mut-cache-") as cache:
        env["COSTMODEL_CACHE_DIR"] = cache   # a mutant never sees another's catalog cache
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", *tests, *modules]
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True,
                                  timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout or ""
            return "timeout", time.perf_counter() - start, str(out)[-800:]
    seconds = time.perf_counter() - start
    tail = (done.stdout + done.stderr)[-800:]
    return ("passed" if done.returncode == 0 else "failed"), seconds, tail


def baseline(copy: Path, group: str) -> float:
    """The group's tests on every module of the group rewritten by `ast.unparse` (no edit):
    they must pass, or a rewrite alone would count as a kill. Returns the seconds taken."""
    modules, tests = GROUPS[group]
    for path in modules:
        (copy / path).write_text(unparsed_source(path))
    try:
        status, seconds, tail = run_tests(copy, tests, modules, timeout=600)
    finally:
        for path in modules:
            shutil.copyfile(ROOT / path, copy / path)
    if status != "passed":
        raise SystemExit(f"baseline of {group} did not pass on the unparsed modules:\n{tail}")
    return seconds


def load_results(out: Path) -> dict[str, dict]:
    if not out.exists():
        return {}
    results = {}
    for line in out.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            results[row["id"]] = row
    return results


def report(rows: list[dict], equivalent: dict[str, str]) -> str:
    lines = ["| group | module | mutants | killed | timeouts | survived | equivalent | score |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    by_module: dict[tuple[str, str], Counter] = {}
    for row in rows:
        c = by_module.setdefault((row["group"], row["path"]), Counter())
        c["mutants"] += 1
        status = row["status"]
        if status == "survived" and row["id"] in equivalent:
            status = "equivalent"
        c[status] += 1
    total: Counter = Counter()
    for (group, path), c in sorted(by_module.items()):
        total.update(c)
        lines.append(_row(group, path, c))
    lines.append(_row("**all**", "", total))
    return "\n".join(lines)


def _row(group: str, path: str, c: Counter) -> str:
    killed = c["killed"] + c["timeout"]
    scored = c["mutants"] - c["equivalent"]
    score = f"{100 * killed / scored:.1f}%" if scored else "-"
    return (f"| {group} | {path} | {c['mutants']} | {c['killed']} | {c['timeout']} | "
            f"{c['survived']} | {c['equivalent']} | {score} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", choices=sorted(GROUPS), action="append")
    ap.add_argument("--only", action="append", help="one module (path from the root)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/costmodel-mutate/results.jsonl"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/costmodel-mutate"))
    ap.add_argument("--sample", type=int, default=100, metavar="PERCENT",
                    help="run this share of the mutants, chosen by their id (stable)")
    ap.add_argument("--rerun", metavar="STATUS",
                    help="run again the mutants whose last result is STATUS (e.g. survived: "
                         "after new tests), in fresh copies of the tree")
    ap.add_argument("--list", action="store_true", help="print the mutants and stop")
    ap.add_argument("--report", action="store_true", help="summarise --out and stop")
    ap.add_argument("--equivalent", type=Path, default=ROOT / "bench/mutate_equivalent.json",
                    help="JSON object: mutant id -> why it is equivalent")
    args = ap.parse_args()

    equivalent = json.loads(args.equivalent.read_text()) if args.equivalent.exists() else {}
    groups = args.group or list(GROUPS)
    plan: list[tuple[str, Mutant]] = []
    for group in groups:
        for path in GROUPS[group][0]:
            if args.only and path not in args.only:
                continue
            plan += [(group, m) for m in mutants_of(path)
                     if int(m.id, 16) % 100 < args.sample]

    if args.list:
        for group, m in plan:
            print(f"{m.id} {group:8} {m.path}:{m.line} {m.kind:8} {m.change:24} "
                  f"{m.source.strip()[:70]}")
        print(f"{len(plan)} mutants", Counter(g for g, _ in plan))
        return
    if args.report:
        # the mutants of the modules as they are now (a module edited since has new ones)
        results = load_results(args.out)
        rows = [results[m.id] for _, m in plan if m.id in results]
        print(report(rows, equivalent))
        print(f"{len(plan) - len(rows)} of {len(plan)} mutants not run yet")
        survivors = [r for r in rows if r["status"] == "survived"]
        for r in sorted(survivors, key=lambda r: (r["path"], r["line"])):
            mark = "equivalent" if r["id"] in equivalent else "SURVIVED"
            print(f"{mark:10} {r['id']} {r['path']}:{r['line']} {r['change']:20} "
                  f"{r['source'].strip()[:80]}")
        return

    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = load_results(args.out)
    if args.rerun:
        todo = [(g, m) for g, m in plan
                if m.id in done and done[m.id]["status"] == args.rerun]
    else:
        todo = [(g, m) for g, m in plan if m.id not in done]
    print(f"{len(plan)} mutants, {len(plan) - len(todo)} already run, {len(todo)} to run",
          flush=True)
    copies = [make_copy(args.work / f"copy{j}") for j in range(max(1, args.jobs))]
    timeouts = {}
    for group in groups:
        if any(g == group for g, _ in todo):
            seconds = baseline(copies[0], group)
            timeouts[group] = 3 * seconds + 20
            print(f"baseline {group}: {seconds:.1f} s (timeout {timeouts[group]:.0f} s)",
                  flush=True)

    free = list(copies)
    lock = threading.Lock()
    counts: Counter = Counter()

    def run_one(item: tuple[str, Mutant]) -> None:
        group, m = item
        with lock:
            copy = free.pop()
        try:
            modules, tests = GROUPS[group]
            target = copy / m.path
            target.write_text(mutated_source(m.path, m.index))
            try:
                status, seconds, tail = run_tests(copy, tests, (m.path,), timeouts[group])
            finally:
                shutil.copyfile(ROOT / m.path, target)
        finally:
            with lock:
                free.append(copy)
        status = {"passed": "survived", "failed": "killed"}.get(status, status)
        row = {"id": m.id, "group": group, **asdict(m), "status": status,
               "seconds": round(seconds, 2)}
        with lock:
            counts[status] += 1
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            n = sum(counts.values())
            print(f"[{n}/{len(todo)}] {status:8} {m.path}:{m.line} {m.change} "
                  f"({seconds:.1f} s) {dict(counts)}", flush=True)

    with ThreadPoolExecutor(max_workers=len(copies)) as pool:
        list(pool.map(run_one, todo))
    results = load_results(args.out)
    print(report([results[m.id] for _, m in plan if m.id in results], equivalent))


if __name__ == "__main__":
    main()
