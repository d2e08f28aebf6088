"""The ok/FAIL lines and bounded waits of the Python test scripts (tests/csi, tests/fault),
the counterpart of tests/lib.sh for the shell suites. Each script prints its own
`NAME: N passed, M failed` line with summary()."""
import os
import subprocess
import time

counts = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    """One check: prints `ok   NAME` or `FAIL NAME: detail`; returns ok."""
    if ok:
        counts["passed"] += 1
        print(f"ok   {name}", flush=True)
    else:
        counts["failed"] += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def wait_for(predicate, seconds, step=0.05):
    """Polls predicate for up to `seconds`; its last answer."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def summary(name):
    """Prints the closing line; the exit status (1 if any check failed)."""
    print(f"{name}: {counts['passed']} passed, {counts['failed']} failed", flush=True)
    return 1 if counts["failed"] else 0


def thread_stacks(pid):
    """Every thread's stack of process `pid` (gdb, bounded), to tell a daemon that is stuck
    from one that is slow; a note if gdb is missing. Function arguments are left out: one
    may hold a credential."""
    if not os.access("/usr/bin/gdb", os.X_OK):
        return "(install gdb to see them)"
    try:
        r = subprocess.run(["timeout", "60", "/usr/bin/gdb", "-batch", "-nx", "-p", str(pid),
                            "-ex", "set print frame-arguments none", "-ex", "thread apply all bt 25"], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        return "(gdb timed out)"
    return "\n".join(l for l in r.stdout.splitlines() if l.startswith(("Thread", "#")))
