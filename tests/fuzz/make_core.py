"""Makes the core the walker's fuzz harness starts from: fixtures/fuzz_heap.py
(every object family pyheap models, in a small heap, run with -S), dumped
with gdb's gcore once it is built.

Usage: make_core.py OUT [LABEL]   (LABEL: an interpreter of
tests/interpreters.py; default pyenv-3.12 if found, else the first found)
Prints the interpreter label; exits 1 (with the reason on stderr) when no
core can be made, e.g. without gdb or any interpreter.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
import interpreters  # noqa: E402

FIXTURE = os.path.join(harness.FIXTURES, "fuzz_heap.py")


def main():
    out = sys.argv[1]
    want = sys.argv[2] if len(sys.argv) > 2 else None
    if not shutil.which("gcore"):
        print("no gcore (apt-get install gdb)", file=sys.stderr)
        return 1
    found, _ = interpreters.find()
    found = [f for f in found if "3.14.7t" not in f[0]]  # free-threaded: not walked yet
    chosen = [f for f in found if f[0] == (want or "pyenv-3.12")] or ([] if want else found[:1])
    if not chosen:
        print("no interpreter %s" % (want or ""), file=sys.stderr)
        return 1
    label, python = chosen[0]
    tmp = tempfile.mkdtemp(prefix="pyheap-make-core-")
    ready = os.path.join(tmp, "ready")
    env = dict(os.environ, PYHEAP_READY=ready)
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen([python, "-S", FIXTURE], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.time() + 120
        while not os.path.exists(ready) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if not os.path.exists(ready):
            print("the fixture never got ready", file=sys.stderr)
            return 1
        prefix = out + ".tmp"
        subprocess.run(["gcore", "-o", prefix, str(proc.pid)], capture_output=True, timeout=300)
        made = "%s.%d" % (prefix, proc.pid)
        if not os.path.exists(made):
            print("gcore failed", file=sys.stderr)
            return 1
        os.rename(made, out)
    finally:
        if proc.poll() is None:
            proc.stdin.write(b"x")
            proc.stdin.close()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
