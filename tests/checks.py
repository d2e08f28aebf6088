"""The ok/FAIL lines and bounded waits of the Python test scripts (tests/csi, tests/fault),
the counterpart of tests/lib.sh for the shell suites. Each script prints its own
`NAME: N passed, M failed` line with summary()."""
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
