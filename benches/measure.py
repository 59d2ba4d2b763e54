#!/usr/bin/env python3
"""Run one command and report its wall time and peak memory.

Usage: benches/measure.py OUT_FILE COMMAND [ARGS...]

Runs COMMAND with stdout written to OUT_FILE (/dev/null to discard it) and
stderr passed through, and prints one line on stdout:

    MILLISECONDS MAXRSS_KIB EXIT_STATUS

MILLISECONDS is the wall time from spawning the command to reaping it
(monotonic clock, not counting this script's own start-up); MAXRSS_KIB is
the peak resident set in KiB of the command (or of the largest of its
reaped descendants); EXIT_STATUS is the exit code, or 128 + the signal
number when a signal ended it.  benches/lib.sh's `measure` calls this.

The peak comes from GNU time (/usr/bin/time -f %M) when it is installed:
ru_maxrss counts the pages of the process that forked the command, before
its exec, so a command spawned straight from this Python process would never
report less than Python's own 10+ MiB, while GNU time is a small C program
(about 1 MiB).  Without /usr/bin/time it falls back to wait4(2)'s ru_maxrss
with that floor, and says so on stderr.  The time then includes GNU time's
own start (about a millisecond).
"""

import os
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def main() -> int:
    if len(sys.argv) < 3:
        print("usage: measure.py OUT_FILE COMMAND [ARGS...]", file=sys.stderr)
        return 2
    out_file, argv = sys.argv[1], sys.argv[2:]
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    actions = [(os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_CLOSE, fd)]
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        rss_fd, rss_file = tempfile.mkstemp(prefix="measure-rss-")
        os.close(rss_fd)
        argv = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file, "--"] + argv
    else:
        print(f"measure.py: no {GNU_TIME}: peak RSS includes Python's own", file=sys.stderr)
    t0 = time.monotonic_ns()
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    except OSError as e:
        print(f"measure.py: cannot run {argv[0]}: {e.strerror}", file=sys.stderr)
        return 127
    _, status, usage = os.wait4(pid, 0)
    elapsed_ns = time.monotonic_ns() - t0
    os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        code = 128 - code
    rss_kib = usage.ru_maxrss
    if rss_file is not None:
        try:
            with open(rss_file) as f:
                # GNU time writes its notes (a signal, a failed exec) first
                # and the %M figure last.
                rss_kib = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            rss_kib = 0
        finally:
            os.unlink(rss_file)
    print(f"{elapsed_ns // 1_000_000} {rss_kib} {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
