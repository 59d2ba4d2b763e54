#!/usr/bin/env python3
"""Runs CPython's regression tests (Debian trixie's riscv64 python3.13 and
libpython3.13-testsuite) under cranemu and under qemu-riscv64, one module per
process, and writes a table of the results.

Usage:
    scripts/cpython-tests.py [--out DIR] [--markdown FILE] [--timeout SEC]
                             [--cranemu PATH] [--qemu PATH] [--only cranemu|qemu]
                             [--jobs N] [--regrtest-args ARGS] [--table-only]
                             [MODULE...]

With no MODULE, the modules of issue 11's list run (DEFAULT_MODULES).

Each run is `python3.13 -m test MODULE --junit-xml FILE` with its own fresh
working and temporary directories, inside a private user and mount namespace
(`unshare --user --map-root-user --mount`) that has its own binfmt_misc
instance registering qemu-riscv64 for riscv64 ELFs (kernel 6.7 and later).
Both emulators run in the same kind of namespace, so the guest's identity
and privileges are the same under both; QEMU needs the binfmt_misc entry to
follow a guest's execve of another riscv64 program (sys.executable in
subprocess tests), which cranemu does by itself.  The host's own binfmt_misc
and apt state are never touched.

Per-test results come from the JUnit XML file that regrtest writes
(`testcase` elements, with `failure`, `error` or `skipped` children).  A
module whose process dies or times out before it writes the file counts as
one failed pseudo-test `<module>` (with its status) under that emulator.

Results are kept as one JSON file per module and emulator in DIR (default
target/cpython-tests), so a table can be regenerated (--table-only) or one
module rerun without the others.  The table goes to FILE (default
tests/cpython/RESULTS.md): per module, passed/failed/skipped under each
emulator and the wall time, then every test whose outcome differs.

Exit status: 0 if no test passed under QEMU but failed or was skipped under
cranemu (in the modules of this run), 1 otherwise, 2 on a usage error.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Issue 11's list. test_asyncio is a package of many modules (over 2,000
# tests, past the time limit under emulation on two cores): the stated
# subset is its modules about subprocesses, sockets, Unix event loops and
# selectors, each run as a module of its own.
DEFAULT_MODULES = """
test_math test_float test_complex test_int test_long test_struct test_json
test_re test_str test_bytes test_codecs test_itertools test_collections
test_functools test_random test_hashlib test_zlib test_lzma test_bz2
test_datetime test_time test_os test_posix test_signal test_select
test_selectors test_fcntl test_mmap test_tempfile test_shutil test_subprocess
test_socket test_socketserver test_sqlite3 test_pickle test_threading
test_thread test_queue test_asyncio.test_subprocess test_asyncio.test_unix_events
test_asyncio.test_sock_lowlevel test_asyncio.test_selector_events test_decimal
test_ctypes test_pty
""".split()

# Extra regrtest arguments for some modules: test_socketserver asks for
# the 'network' resource as a whole, though it only talks to localhost.
MODULE_ARGS = {"test_socketserver": ["-u", "network"]}

# The binfmt_misc entry of qemu's own qemu-binfmt-conf.sh for riscv64
# (magic and mask of a little-endian ELF64 of machine EM_RISCV, 243);
# flags P (keep argv[0]), O (pass the open binary), C (credentials).
BINFMT = (
    r":qemu-riscv64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    r"\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff"
    r"\xff\xff\xfe\xff\xff\xff:{qemu}:POC"
)

NAMESPACE_SCRIPT = r"""
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 97
printf '%s' "$CPYTEST_BINFMT" > /proc/sys/fs/binfmt_misc/register || exit 98
unset CPYTEST_BINFMT
exec "$@"
"""


def sysroot():
    """The CPython sysroot (fetched, or taken from the cache)."""
    out = subprocess.run(
        [os.path.join(REPO, "scripts/fetch-cpython.sh")],
        check=True, stdout=subprocess.PIPE, text=True)
    return out.stdout.strip()


def parse_junit(path):
    """{test name: 'pass' | 'fail' | 'skip'} from regrtest's JUnit XML."""
    results = {}
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        # A failure outside any test (a class or module fixture) may come
        # without a name.
        name = tc.get("name") or f"{tc.get('classname') or '?'}.<fixture>"

        outcome = "pass"
        for child in tc:
            if child.tag in ("failure", "error"):
                outcome = "fail"
                break
            if child.tag == "skipped":
                outcome = "skip"
        # A name may repeat (subtests of one test): the worst outcome wins.
        prev = results.get(name)
        order = {"pass": 0, "skip": 1, "fail": 2}
        if prev is None or order[outcome] > order[prev]:
            results[name] = outcome
    return results


def run_module(emu, module, args, root):
    """Runs one module under `emu` ('cranemu' or 'qemu'); returns its record."""
    work = tempfile.mkdtemp(prefix=f"cpyt-{emu}-{module}-")
    xml = os.path.join(work, "junit.xml")
    log = os.path.join(args.out, f"{module}.{emu}.log")
    python = os.path.join(root, "usr/bin/python3.13")
    test_args = (["-m", "test", module, "--junit-xml", xml]
                 + MODULE_ARGS.get(module, []) + args.regrtest_args.split())
    if emu == "cranemu":
        cmd = [args.cranemu, "run", "-L", root, python] + test_args
    else:
        cmd = [args.qemu, "-L", root, python] + test_args
    env = dict(os.environ)
    env["TMPDIR"] = os.path.join(work, "tmp")
    env["HOME"] = work
    os.makedirs(env["TMPDIR"])
    env["QEMU_LD_PREFIX"] = root
    env["CPYTEST_BINFMT"] = BINFMT.format(qemu=args.qemu)
    full = ["unshare", "--user", "--map-root-user", "--mount",
            "bash", "-c", NAMESPACE_SCRIPT, "bash"] + cmd
    start = time.monotonic()
    with open(log, "wb") as f:
        try:
            p = subprocess.run(full, cwd=work, env=env, stdin=subprocess.DEVNULL,
                               stdout=f, stderr=subprocess.STDOUT,
                               timeout=args.timeout, start_new_session=True)
            status = p.returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
    wall = time.monotonic() - start
    if os.path.exists(xml):
        tests = parse_junit(xml)
    else:
        tests = {f"<{module}>": "fail"}
    shutil.rmtree(work, ignore_errors=True)
    rec = {"module": module, "emulator": emu, "status": status,
           "wall_s": round(wall, 1), "tests": tests}
    with open(os.path.join(args.out, f"{module}.{emu}.json"), "w") as f:
        json.dump(rec, f, indent=0, sort_keys=True)
    return rec


def load(out, module, emu):
    try:
        with open(os.path.join(out, f"{module}.{emu}.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def counts(rec):
    if rec is None:
        return "not run"
    t = rec["tests"].values()
    return (f"{sum(1 for o in t if o == 'pass')}/{sum(1 for o in t if o == 'fail')}"
            f"/{sum(1 for o in t if o == 'skip')}")


def regressions(c, q):
    """Tests that pass under QEMU and fail or are skipped under cranemu."""
    if c is None or q is None:
        return []
    return sorted(t for t, o in q["tests"].items()
                  if o == "pass" and c["tests"].get(t, "missing") != "pass")


def table(out, modules, notes):
    lines = [
        "# CPython 3.13 regression tests: cranemu vs qemu-riscv64",
        "",
        "Generated by `scripts/cpython-tests.py` (Debian trixie riscv64 "
        "python3.13 and libpython3.13-testsuite, one module per process, "
        "`python3.13 -m test MODULE --junit-xml`). Counts are "
        "passed/failed/skipped tests; wall times are seconds on the machine "
        "that ran it (2 shared cores; noisy). A module that died before "
        "writing its results counts as one failed test `<module>`.",
        "",
        "| module | cranemu p/f/s | qemu p/f/s | cranemu s | qemu s | passes under QEMU only |",
        "|---|---|---|---|---|---|",
    ]
    details = []
    total = [0, 0]
    for m in modules:
        c, q = load(out, m, "cranemu"), load(out, m, "qemu")
        if c is None and q is None:
            continue
        reg = regressions(c, q)
        total[0] += len(reg)
        better = []
        if c is not None and q is not None:
            better = sorted(t for t, o in c["tests"].items()
                            if o == "pass" and q["tests"].get(t) != "pass")
            total[1] += len(better)
        lines.append(f"| {m} | {counts(c)} | {counts(q)} | "
                     f"{c['wall_s'] if c else '-'} | {q['wall_s'] if q else '-'} | "
                     f"{len(reg) if c and q else '-'} |")
        if reg or better:
            details.append(f"### {m}")
            details.append("")
            for t in reg:
                details.append(f"- passes under QEMU, {c['tests'].get(t, 'missing')} "
                               f"under cranemu: `{t}`")
            for t in better:
                details.append(f"- passes under cranemu, "
                               f"{q['tests'].get(t, 'missing')} under QEMU: `{t}`")
            details.append("")
    lines.append("")
    lines.append(f"Tests passing under QEMU but not under cranemu: {total[0]}; "
                 f"passing under cranemu but not under QEMU: {total[1]}.")
    lines.append("")
    if details:
        lines.append("## Differences")
        lines.append("")
        lines.extend(details)
    if notes:
        lines.append("## Notes")
        lines.append("")
        lines.append(notes.rstrip())
        lines.append("")
    return "\n".join(lines) + "\n", total[0]


def main():
    # The runs get SIGINT and SIGQUIT at their defaults, as in a terminal,
    # even when this script was started ignoring them (a shell's background
    # job): an ignored SIGINT survives execve, and CPython then installs no
    # KeyboardInterrupt handler, which test_signal checks.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*")
    ap.add_argument("--out", default=os.path.join(REPO, "target/cpython-tests"))
    ap.add_argument("--markdown", default=os.path.join(REPO, "tests/cpython/RESULTS.md"))
    ap.add_argument("--notes", default=os.path.join(REPO, "tests/cpython/NOTES.md"),
                    help="text appended to the table (explanations of differences)")
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--cranemu", default=os.path.join(REPO, "target/release/cranemu"))
    ap.add_argument("--qemu", default=shutil.which("qemu-riscv64") or "/usr/bin/qemu-riscv64")
    ap.add_argument("--only", choices=["cranemu", "qemu"])
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--regrtest-args", default="",
                    help="more arguments for regrtest, e.g. '-v' (logs in DIR)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs at a time (each is one module under one emulator)")
    args = ap.parse_args()
    modules = args.modules or DEFAULT_MODULES
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    if not args.table_only:
        root = sysroot()
        args.cranemu = os.path.abspath(args.cranemu)
        runs = [(m, emu) for m in modules for emu in ("cranemu", "qemu")
                if not args.only or emu == args.only]
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for rec in pool.map(lambda r: run_module(r[1], r[0], args, root), runs):
                print(f"{rec['module']:24} {rec['emulator']:8} {counts(rec):>14} "
                      f"{rec['wall_s']:8.1f}s status={rec['status']}", flush=True)
    notes = ""
    if os.path.exists(args.notes):
        with open(args.notes) as f:
            notes = f.read()
    # The table lists every module with results in DIR, in issue 11's order
    # first, then the others by name.
    have = sorted({n.rsplit(".", 2)[0] for n in os.listdir(args.out) if n.endswith(".json")})
    order = [m for m in DEFAULT_MODULES if m in have] + [m for m in have if m not in DEFAULT_MODULES]
    order = [m for m in order if m in have]
    text, _ = table(args.out, order, notes)
    os.makedirs(os.path.dirname(args.markdown), exist_ok=True)
    with open(args.markdown, "w") as f:
        f.write(text)
    bad = sum(len(regressions(load(args.out, m, "cranemu"), load(args.out, m, "qemu")))
              for m in modules)
    print(f"{bad} tests pass under QEMU but not under cranemu", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
