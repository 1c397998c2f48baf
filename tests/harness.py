"""Shared pieces of the pyheap test suites: result counting, starting
fixture processes that block at an oracle checkpoint, running pyheap.

Every process a test starts is ended by PID by the same test (never by
name), and every check is counted as passed, failed or skipped; a skip
always says why."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
PYHEAP = os.environ.get("PYHEAP", os.path.join(ROOT, "build", "pyheap"))


class Results:
    def __init__(self, suite):
        self.suite = suite
        self.passed = self.failed = self.skipped = 0

    def ok(self, name):
        self.passed += 1
        print("ok      %s" % name, flush=True)

    def fail(self, name, why):
        self.failed += 1
        print("FAIL    %s\n        %s" % (name, why.replace("\n", "\n        ")), flush=True)

    def skip(self, name, why):
        self.skipped += 1
        print("skip    %s: %s" % (name, why), flush=True)

    def check(self, name, condition, why=""):
        if condition:
            self.ok(name)
        else:
            self.fail(name, why)
        return condition

    def finish(self):
        print("%s: %d passed, %d failed, %d skipped" % (self.suite, self.passed, self.failed, self.skipped), flush=True)
        return 1 if self.failed else 0


def process_state(pid):
    """The one-letter state from /proc/PID/stat, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def stopped_threads(pid):
    """Thread IDs of pid in a stopped or traced state (T or t)."""
    stopped = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rindex(")") + 2] in "tT":
                stopped.append(int(tid))
    except OSError:
        pass
    return stopped


def all_threads_stopped(pid):
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    return len(stopped_threads(pid)) == len(tasks)


def tracer_pid(pid, tid=None):
    path = "/proc/%d/status" % pid if tid is None else "/proc/%d/task/%d/status" % (pid, tid)
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def traced_threads(pid):
    """Thread IDs of pid that have a tracer."""
    try:
        tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    except OSError:
        return []
    return [tid for tid in tids if tracer_pid(pid, tid)]


def target_running(pid):
    """Left running: the process exists, no thread of it is stopped (T) or
    in a trace stop (t), and none has a tracer. Any other state counts:
    S, R, and D too (a target blocked on disk I/O, e.g. still paging in its
    interpreter on a cold cache, is running)."""
    state = process_state(pid)
    return (
        state is not None
        and state not in "tTZX"
        and not stopped_threads(pid)
        and not traced_threads(pid)
        and tracer_pid(pid) == 0
    )


def describe(pid):
    return "state %r, stopped threads %r, traced threads %r, tracer %r" % (
        process_state(pid), stopped_threads(pid), traced_threads(pid), tracer_pid(pid))


def wait_until(predicate, timeout=120.0):
    """Polls predicate until it holds (True) or timeout seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# A target started with start_ready() prints this line once it is ready.
READY_LINE = "ready"


def ready_code(body="import time; time.sleep(600)"):
    """Python source (2.7 and 3.x) that announces it is ready on stdout,
    then runs body: the handshake of start_ready()."""
    return "import sys; sys.stdout.write(%r); sys.stdout.flush(); %s" % (READY_LINE + "\n", body)


def start_ready(argv, timeout=600, **popen_args):
    """Starts argv with its stdout on a pipe and waits for its first line,
    the handshake that says it is ready (nothing is timed: a cold cache can
    take seconds to load an interpreter). Returns the Popen; raises
    RuntimeError (after ending the process) if it exits or says something
    else first. The wait is bounded only against a hang."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, **popen_args)
    line = _read_line(proc, timeout)
    if line.strip() != READY_LINE:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise RuntimeError("%s never said it was ready (first line %r, exit %r)" % (argv[0], line, proc.returncode))
    return proc


def _read_line(proc, timeout):
    result = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline().decode(errors="replace")),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


class Fixture:
    """A fixture process blocked at its oracle checkpoint."""

    def __init__(self, python, script, env=None, timeout=600, capture_stdout=False, prefix=()):
        self.tmp = tempfile.mkdtemp(prefix="pyheap-test-")
        self.oracle_path = os.path.join(self.tmp, "oracle.json")
        full_env = dict(os.environ)
        full_env.pop("PYTHONPATH", None)
        full_env.update(env or {})
        full_env["PYHEAP_ORACLE_OUT"] = self.oracle_path
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.stdout_path = os.path.join(self.tmp, "stdout")
        self.stdout = open(self.stdout_path, "wb") if capture_stdout else None
        self.proc = subprocess.Popen(
            list(prefix) + [python, os.path.join(FIXTURES, script)],
            stdin=subprocess.PIPE,
            stdout=self.stdout if capture_stdout else subprocess.DEVNULL,
            stderr=self.stderr,
            env=full_env,
        )
        self.pid = self.proc.pid
        self.oracle = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.oracle_path):
                with open(self.oracle_path) as f:
                    self.oracle = json.load(f)
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)

    def advance(self, label, timeout=600):
        """Lets the fixture run on to its next checkpoint, named label;
        returns its oracle there, or None."""
        try:
            self.proc.stdin.write(b"x")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(self.oracle_path) as f:
                    data = json.load(f)
                if data.get("label") == label:
                    self.oracle = data
                    return data
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def error_text(self):
        self.stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def release(self, timeout=120):
        """Lets the fixture finish; returns its exit code (None if it hung)."""
        try:
            self.proc.stdin.write(b"x")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def output_text(self):
        if not self.stdout:
            return ""
        self.stdout.flush()
        with open(self.stdout_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        self.kill()
        self.stderr.close()
        if self.stdout:
            self.stdout.close()
        for name in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, name))
        os.rmdir(self.tmp)


def run_pyheap(args, timeout=600, env=None):
    """Runs pyheap; returns (exit code, stdout, stderr)."""
    proc = subprocess.run([PYHEAP] + list(args), capture_output=True, timeout=timeout, env=env)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def snapshot(pid, timeout=600, extra=(), env=None):
    """Takes a snapshot; returns (exit code, parsed JSON or None, stderr)."""
    proc = subprocess.run([PYHEAP, "snap", "-q"] + list(extra) + [str(pid)], capture_output=True,
                          timeout=timeout, env=env)
    code, out, err = proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    data = None
    if code == 0:
        try:
            data = json.loads(out)
        except ValueError as e:
            err += "\nsnapshot is not JSON: %s" % e
            code = -1
    return code, data, err


def rss_bytes(pid):
    """A process's resident memory (VmRSS), bytes; 0 when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
