"""amltest.py - what the Python tests share: check() counting the passed and
failed checks, the summary line and exit status, a free TCP port, psql, and
polling a condition with a deadline (never a fixed sleep). Each test adds
tests/pylib to sys.path and imports from here."""
import socket
import subprocess
import time

passed = failed = 0


def check(cond, what):
    """Counts cond as a passed or failed check, printing what when it fails;
    returns cond."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}", flush=True)
    return cond


def summary():
    """Prints "N passed, M failed"; the exit status (1 when any failed)."""
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url, sql):
    return subprocess.run(["psql", "-Atq", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                          check=True, capture_output=True, text=True).stdout


def wait_for(cond, seconds, what):
    """Polls cond (a refused connection counts as not yet) until it holds;
    a failed check when the deadline passes first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return check(False, what)
