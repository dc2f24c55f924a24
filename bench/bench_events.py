"""`costmodel price-events` on a long recorded session: CPU and peak RSS against floors.

Goals (issue 10): `price-events --json` <= 2x the json+Decimal floor in CPU; the table mode
<= 1.5x `--json`; peak RSS of `--json` <= 150 MB at 560k lines.

The session is examples/sessions/openai-realtime-support.jsonl repeated (each copy with its
own session events) to `--lines` lines, written to /tmp once (never commit it). Every path
runs as its own process, in rotating order, `--rounds` times; CPU is user + system time and
RSS the peak resident set, both from wait4(). Paths:

- floor:   `json.loads` every line, and price each usage event exactly (Decimal rates of
           the same models, read from the catalog beforehand): the same work, bare;
- orjson:  the same loop with orjson and float rates (a peer, not exact), when orjson can be
           imported (pass --orjson-path DIR for a `pip install --target DIR orjson`);
- json:    `costmodel price-events FILE --json`;
- table:   `costmodel price-events FILE` (rows past the cap elided);
- all:     `costmodel price-events FILE --all` (every row drawn; only with --with-all).

    python bench/bench_events.py [--lines 140000] [--rounds 3] [--root DIR] [--json]

`--root DIR` runs the CLI of another checkout (`python -m costmodel` from DIR), e.g. a
worktree of the commit before this work, for before/after figures from one script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
EXAMPLE = HERE / "examples" / "sessions" / "openai-realtime-support.jsonl"

FLOOR = r"""
import json, sys
from decimal import Decimal
R, T = ({k: Decimal(v) for k, v in r.items()} for r in json.loads(sys.argv[2]))
total, n = Decimal(0), 0
with open(sys.argv[1], "rb") as f:
    for raw in f:
        ev = json.loads(raw)
        t = ev.get("type")
        if t == "response.done":
            u = ev["response"]["usage"]
            itd, otd = u["input_token_details"], u["output_token_details"]
            ctd = itd["cached_tokens_details"]
            ct, ca = ctd["text_tokens"], ctd["audio_tokens"]
            total += ((itd["text_tokens"] - ct) * R["text.input"] + ct * R["text.cached"]
                      + (itd["audio_tokens"] - ca) * R["audio.input"] + ca * R["audio.cached"]
                      + otd["text_tokens"] * R["text.output"]
                      + otd["audio_tokens"] * R["audio.output"])
            n += 1
        elif t == "conversation.item.input_audio_transcription.completed":
            u = ev["usage"]
            itd = u["input_token_details"]
            total += (itd["text_tokens"] * T["text.input"] + itd["audio_tokens"] * T["audio.input"]
                      + u["output_tokens"] * T["text.output"])
            n += 1
print(total, n)
"""

ORJSON = FLOOR.replace("import json, sys", "import json, sys, orjson").replace(
    "json.loads(raw)", "orjson.loads(raw)").replace("Decimal(v)", "float(v)").replace(
    "Decimal(0)", "0.0")


def session_file(lines: int) -> Path:
    """The example session repeated to `lines` lines, in /tmp (made once)."""
    src = EXAMPLE.read_text(encoding="utf-8")
    src += "" if src.endswith("\n") else "\n"
    per = src.count("\n")
    reps = lines // per
    path = Path(f"/tmp/costmodel-events-{reps * per}.jsonl")
    if not path.exists() or path.stat().st_size != len(src.encode()) * reps:
        tmp = path.with_suffix(".part")
        with open(tmp, "w", encoding="utf-8") as f:
            for _ in range(reps):
                f.write(src)
        tmp.replace(path)
    return path


def rates() -> str:
    """Per-token rates of the example's two models, from the catalog, as JSON strings.

    Read in a child process: the parent stays small, since a child's peak RSS counts from
    the fork."""
    code = ("import json; from costmodel import rates_for; print(json.dumps("
            "[{k: str(v) for k, v in rates_for(m).per_token.items()} for m in "
            "('openai/gpt-realtime-1.5', 'openai/gpt-4o-transcribe')]))")
    return subprocess.run([sys.executable, "-c", code], cwd=HERE, check=True,
                          capture_output=True, text=True).stdout


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """CPU seconds (user + system), peak RSS and exit status of one process."""
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.stderr.close() if proc.stderr else None
    code = os.waitstatus_to_exitcode(status)
    if code not in (0,):
        raise SystemExit(f"{' '.join(cmd)} exited {code}: {stderr[-500:]}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=140_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--root", type=Path, default=HERE, help="checkout whose CLI to run")
    ap.add_argument("--orjson-path", help="directory holding orjson (pip install --target)")
    ap.add_argument("--with-all", action="store_true", help="also time --all (slow)")
    ap.add_argument("--only", help="comma-separated paths to run (floor,orjson,json,table,all)")
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


def commands(args: argparse.Namespace, path: Path) -> dict[str, tuple[list[str], dict]]:
    """Each path's command line and environment, by name."""
    env = dict(os.environ)
    peer_env = dict(env)
    if args.orjson_path:
        peer_env["PYTHONPATH"] = args.orjson_path
    has_orjson = subprocess.run([sys.executable, "-c", "import orjson"], env=peer_env,
                                capture_output=True).returncode == 0
    r = rates()
    cli = [sys.executable, "-m", "costmodel", "price-events", str(path)]
    paths = {"floor": ([sys.executable, "-c", FLOOR, str(path), r], env)}
    if has_orjson:
        paths["orjson"] = ([sys.executable, "-c", ORJSON, str(path), r], peer_env)
    paths["json"] = ([*cli, "--json"], env)
    paths["table"] = (cli, env)
    if args.with_all or "all" in (args.only or "").split(","):
        paths["all"] = ([*cli, "--all"], env)
    if args.only:
        keep = args.only.split(",")
        paths = {k: v for k, v in paths.items() if k in keep}
    return paths


def ratios_of(med: dict[str, dict]) -> dict[str, float]:
    """CPU ratios: each costmodel path over the floor, and the table modes over --json."""
    ratios = {}
    for base, ks in (("floor", ("orjson", "json", "table", "all")), ("json", ("table", "all"))):
        if base not in med:
            continue
        for k in ks:
            if k in med:
                ratios[f"{k}/{base}"] = round(med[k]["cpu_s"] / med[base]["cpu_s"], 2)
    return ratios


def main() -> None:
    args = parse_args()
    path = session_file(args.lines)
    paths = commands(args, path)
    samples: dict[str, list[dict]] = {k: [] for k in paths}
    names = list(paths)
    for i in range(args.rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:  # rotating order
            cmd, e = paths[name]
            samples[name].append(run(cmd, args.root if name in ("json", "table", "all")
                                     else HERE, e))

    med = {k: {"cpu_s": round(statistics.median(s["cpu_s"] for s in v), 3),
               "rss_mb": round(max(s["rss_mb"] for s in v), 1),
               "cpu_runs": [round(s["cpu_s"], 3) for s in v]} for k, v in samples.items()}
    ratios = ratios_of(med)
    with open(path, "rb") as fh:
        lines = sum(1 for _ in fh)
    result = {"lines": lines, "rounds": args.rounds,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                         f"python {platform.python_version()}",
              "root": str(args.root), "paths": med, "ratios": ratios}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['lines']:,} lines, median CPU of {args.rounds} runs; {result['machine']}")
    for k, v in med.items():
        print(f"  {k:7} {v['cpu_s']:7.3f} s CPU  peak RSS {v['rss_mb']:7.1f} MB   "
              f"runs {v['cpu_runs']}")
    for k, v in ratios.items():
        print(f"  {k:12} {v:.2f}x")


if __name__ == "__main__":
    main()
