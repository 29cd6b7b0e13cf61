"""Start-up cost of whole ``bpcalc`` commands, each in a fresh Python process.

    python benchmarks/startup.py            # 20 alternated rounds
    python benchmarks/startup.py --runs 50

Every round runs each command once, in turn (so a slow moment of the machine
hits all of them alike), after one untimed warm-up round that fills the OS file
cache. Reported: median and minimum wall time in ms, and their ratio to the
baseline ``python -c "import numpy, yaml, json"`` — the imports that any tool
reading a YAML problem into NumPy and printing JSON has to pay for.

Then it lists the modules that ``bpcalc solve --format json`` imports beyond
the baseline (from ``python -X importtime``), and says whether Rich is among
them: it must not be, since JSON output draws nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "problems/simple_network.yaml"
PY = sys.executable

COMMANDS = {
    "baseline: python -c 'import numpy, yaml, json'": [PY, "-c", "import numpy, yaml, json"],
    "bpcalc solve --format json": [PY, "-m", "bpcalc", "solve", PROBLEM, "--format", "json"],
    "bpcalc solve (text)": [PY, "-m", "bpcalc", "solve", PROBLEM],
    "bpcalc --version": [PY, "-m", "bpcalc", "--version"],
}


PYCACHE = Path(tempfile.gettempdir()) / "bpcalc-startup-pycache"


def environment(cached: bool = True) -> dict[str, str]:
    """The environment of every run. ``cached``: Python may write and read bytecode
    (.pyc) for bpcalc, as after any normal install; it goes to a private
    PYTHONPYCACHEPREFIX, never into the repository. Otherwise the shell's
    PYTHONDONTWRITEBYTECODE=1 (if set) makes every run recompile bpcalc's sources."""
    env = dict(os.environ)
    for name in ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "PYTHONPROFILEIMPORTTIME", "PYTHONWARNINGS"):
        env.pop(name, None)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def run_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {completed.returncode}:\n{completed.stderr.decode()}")
    return elapsed * 1000.0


def time_commands(runs: int, cached: bool) -> dict[str, list[float]]:
    env = environment(cached)
    for argv in COMMANDS.values():                 # warm-up, untimed (and fills the .pyc cache)
        run_once(argv, env)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    names = list(COMMANDS)
    for round_number in range(runs):
        # alternate, and rotate the order so no command always runs first
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(run_once(COMMANDS[name], env))
    return times


def imported_modules(argv: list[str]) -> dict[str, int]:
    """Module name -> its own ("self") import time in µs, from ``python -X importtime``."""
    completed = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=ROOT, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    modules: dict[str, int] = {}
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative_us, name = line[len("import time:"):].split("|")
        modules[name.strip()] = int(self_us)
    return modules


def top_level(names: set[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in names})


def print_table(times: dict[str, list[float]]) -> None:
    base = list(times.values())[0]
    base_median, base_min = statistics.median(base), min(base)
    width = max(map(len, times))
    print(f"{'command':<{width}}  {'median ms':>9}  {'min ms':>7}  {'× base (median)':>15}  {'× base (min)':>12}")
    print("-" * (width + 51))
    for name, values in times.items():
        median, low = statistics.median(values), min(values)
        print(f"{name:<{width}}  {median:9.1f}  {low:7.1f}  {median / base_median:15.2f}  {low / base_min:12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--bytecode", choices=("cached", "uncached", "both"), default="both",
                        help="cached: .pyc files are written and reused, as after a normal install; "
                             "uncached: the shell's PYTHONDONTWRITEBYTECODE is kept, so bpcalc's "
                             "sources are compiled on every run (default: both)")
    args = parser.parse_args()

    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPUs; {args.runs} alternated rounds "
          f"after 1 warm-up; cwd {ROOT}")
    print(f"PYTHONDONTWRITEBYTECODE in this shell: {os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}")
    modes = ("cached", "uncached") if args.bytecode == "both" else (args.bytecode,)
    for mode in modes:
        print()
        if mode == "cached":
            print(f"Bytecode cached (PYTHONPYCACHEPREFIX={PYCACHE}), as after a normal install:")
        else:
            print("Bytecode as the shell has it"
                  + (" (not written: bpcalc is recompiled on every run):"
                     if os.environ.get("PYTHONDONTWRITEBYTECODE") else ":"))
        print_table(time_commands(args.runs, cached=mode == "cached"))

    print()
    print("Imports (with cached bytecode):")
    baseline = imported_modules(COMMANDS["baseline: python -c 'import numpy, yaml, json'"])
    json_run = imported_modules(COMMANDS["bpcalc solve --format json"])
    text_run = imported_modules(COMMANDS["bpcalc solve (text)"])
    version_run = imported_modules(COMMANDS["bpcalc --version"])
    extra = set(json_run) - set(baseline)
    print(f"--format json imports {len(extra)} modules beyond the baseline; by package (self import time):")
    for package in top_level(extra):
        members = [m for m in extra if m.split(".")[0] == package]
        cost = sum(json_run[m] for m in members) / 1000.0
        print(f"  {package:<16} {len(members):3d} module{'s' if len(members) > 1 else ' '}  {cost:6.1f} ms")
    print(f"  {'total':<16} {len(extra):3d} modules  {sum(json_run[m] for m in extra) / 1000.0:6.1f} ms "
          "(import time, self, one run)")
    rich_json = sorted(m for m in json_run if m.split(".")[0] == "rich")
    print()
    print(f"rich imported by --format json: {'YES (' + ', '.join(rich_json[:5]) + ')' if rich_json else 'no'}")
    print(f"rich imported by the text output: {'yes' if any(m.split('.')[0] == 'rich' for m in text_run) else 'no'}")
    print(f"numpy imported by --version: {'YES' if 'numpy' in version_run else 'no'}; "
          f"yaml: {'YES' if 'yaml' in version_run else 'no'}")
    if rich_json:
        raise SystemExit("FAIL: --format json must not import rich")


if __name__ == "__main__":
    main()
