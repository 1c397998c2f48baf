"""Programs nobody here wrote, as their users run them, under Debian's
python3.11 (DWARF from python3.11-dbg):

- flaskr, Flask's tutorial application (shipped in python3-flask), under
  `flask run` (werkzeug's threaded server);
- Tornado's chat demo (python-tornado-doc): long polling, xsrf cookies;
- aiohttp's own server (`python -m aiohttp.web`) serving static files and
  directory listings (the only code of ours is the five-line entry function
  that the command requires: tests/real_programs/aiohttp_static.py);
- Sphinx (python3-sphinx) building the API documentation of tornado that
  sphinx-apidoc generated (autodoc imports every module).

For each: real traffic (or the build itself) from this process; a run
without snapshots and a run with snapshots back to back (every snapshot
must succeed and no request may fail; latencies recorded); then an exact
checkpoint in the middle of more traffic. The program runs under
fixtures/real_program_oracle.py, which installs a signal handler and
starts the program's own entry point with runpy; on the signal it counts
gc.get_objects() from inside and blocks holding the GIL. Two snapshots a
second apart must agree with each other (the heap was frozen: if they do
not, the oracle is at fault), and with the oracle: every type's count, the
set of addresses, every exactly modelled size.

Usage: test_real_programs.py [--only NAME] [--doc FILE]
  --doc FILE  rewrite the real-programs section of FILE (docs/reliability.md)
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "real-programs"))
HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(harness.FIXTURES, "real_program_oracle.py")
FLASK_EXAMPLES = "/usr/share/doc/python3-flask/examples"
TORNADO_CHAT = "/usr/share/doc/python-tornado-doc/examples/chat/chatdemo.py"
AIOHTTP_ROOT = "/usr/lib/python3/dist-packages/aiohttp"
TORNADO_PACKAGE = "/usr/lib/python3/dist-packages/tornado"
CLIENTS = 4
REQUESTS = 1000  # per run, at least
SNAPSHOTS = 5  # back to back in the loaded run
BOUND = 180  # seconds: bounds against a hang only


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive HTTP connection that reconnects when the server
    closes it (werkzeug's server may close after every response)."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if body is not None:
            body = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=BOUND)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a keep-alive connection the server had closed: only a
                # request never answered on a fresh connection is a failure
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            if response.will_close:
                self.conn.close()
                self.conn = None
            return response.status, data
        raise AssertionError("unreachable")

    def close(self):
        if self.conn:
            self.conn.close()


class Program:
    """A third-party program run under the oracle wrapper."""
    name = ""
    server = True

    def available(self):
        """None, or why this program cannot run here."""
        return None

    def prepare(self, tmp, python):
        pass

    def argv(self, tmp):
        raise NotImplementedError

    def cwd(self, tmp):
        return tmp

    def env(self, tmp):
        return {}

    # servers
    def connect(self, port):
        """A new client, logged in or holding whatever cookies it needs."""
        return Client(port)

    def step(self, client, i):
        """One request; returns None, or what went wrong."""
        raise NotImplementedError


class Flaskr(Program):
    name = "flaskr (Flask 2.2, werkzeug threaded server)"
    short = "flaskr"

    def available(self):
        return None if os.path.isdir(os.path.join(FLASK_EXAMPLES, "flaskr")) else \
            "%s/flaskr missing (apt-get install python3-flask)" % FLASK_EXAMPLES

    def prepare(self, tmp, python):
        shutil.copytree(os.path.join(FLASK_EXAMPLES, "flaskr"), os.path.join(tmp, "flaskr"))
        res = subprocess.run([python, "-m", "flask", "--app", "flaskr", "init-db"], cwd=tmp,
                             capture_output=True, text=True, timeout=BOUND)
        if res.returncode != 0:
            raise RuntimeError("flask init-db failed: " + res.stderr[-500:])

    def argv(self, tmp):
        self.port = free_port()
        return ["-m", "flask", "--app", "flaskr", "run", "--host", "127.0.0.1", "--port", str(self.port),
                "--no-reload", "--no-debugger", "--with-threads"]

    def connect(self, port):
        client = Client(port)
        user = "user%d-%d" % (os.getpid(), random.getrandbits(40))
        status, _ = client.request("POST", "/auth/register", {"username": user, "password": "pw-" + user})
        if status != 302:
            raise RuntimeError("register: status %d" % status)
        status, _ = client.request("POST", "/auth/login", {"username": user, "password": "pw-" + user})
        if status != 302 or "session" not in client.cookies:
            raise RuntimeError("login: status %d, cookies %r" % (status, client.cookies))
        return client

    def step(self, client, i):
        if i % 10 == 0 and i < 3000:
            status, _ = client.request("POST", "/create", {"title": "post %d" % i, "body": "body of post %d" % i})
            return None if status == 302 else "POST /create: %d" % status
        if i % 10 < 6:
            status, body = client.request("GET", "/")
            return None if status == 200 and b"Posts" in body else "GET /: %d" % status
        status, _ = client.request("GET", "/create")
        return None if status == 200 else "GET /create: %d" % status


class TornadoChat(Program):
    name = "Tornado 6.2 chat demo (long polling)"
    short = "tornado-chat"

    def available(self):
        return None if os.path.exists(TORNADO_CHAT) else "%s missing (apt-get install python-tornado-doc)" % TORNADO_CHAT

    def argv(self, tmp):
        self.port = free_port()
        return [TORNADO_CHAT, "--port=%d" % self.port, "--debug=false", "--logging=warning"]

    def connect(self, port):
        client = Client(port)
        status, _ = client.request("GET", "/")
        if status != 200 or "_xsrf" not in client.cookies:
            raise RuntimeError("GET /: status %d, cookies %r" % (status, client.cookies))
        client.cursor = None
        return client

    def step(self, client, i):
        xsrf = client.cookies["_xsrf"]
        if i % 3 == 0:
            status, body = client.request("POST", "/a/message/new", {"body": "message %d" % i, "_xsrf": xsrf})
            if status != 200:
                return "POST /a/message/new: %d" % status
            before, client.cursor = client.cursor, json.loads(body)["id"]
            client.before = before
            return None
        if i % 3 == 1:
            # newer messages exist (our own), so this long poll returns at once
            args = {"_xsrf": xsrf}
            if getattr(client, "before", None):
                args["cursor"] = client.before
            status, body = client.request("POST", "/a/message/updates", args)
            return None if status == 200 and b"messages" in body else "POST /a/message/updates: %d" % status
        status, body = client.request("GET", "/")
        return None if status == 200 else "GET /: %d" % status

    def listener(self, port, stop, failures):
        """A client that long-polls for the newest message, as a browser
        tab does: each poll waits in the server until someone posts."""
        client = self.connect(port)
        cursor = None
        try:
            while not stop.is_set():
                args = {"_xsrf": client.cookies["_xsrf"]}
                if cursor:
                    args["cursor"] = cursor
                status, body = client.request("POST", "/a/message/updates", args)
                if status != 200:
                    failures.append("listener: %d" % status)
                    return
                cursor = json.loads(body)["messages"][-1]["id"]
        except (OSError, http.client.HTTPException, ValueError) as e:
            failures.append("listener: %r" % e)
        finally:
            client.close()


class AiohttpStatic(Program):
    name = "aiohttp 3.8 server (python -m aiohttp.web), static files"
    short = "aiohttp"

    def available(self):
        return None if os.path.isdir(AIOHTTP_ROOT) else "python3-aiohttp is not installed"

    def argv(self, tmp):
        self.port = free_port()
        return ["-m", "aiohttp.web", "-H", "127.0.0.1", "-P", str(self.port), "aiohttp_static:init", AIOHTTP_ROOT]

    def cwd(self, tmp):
        return os.path.join(HERE, "real_programs")

    def connect(self, port):
        client = Client(port)
        status, body = client.request("GET", "/")
        if status != 200:
            raise RuntimeError("GET /: %d" % status)
        if not hasattr(self, "paths"):
            self.paths = sorted(set(re.findall(r'href="(/[^"]+)"', body.decode())))
            if not self.paths:
                raise RuntimeError("the index lists no files")
        return client

    def step(self, client, i):
        path = "/" if i % 8 == 0 else self.paths[i % len(self.paths)]
        status, body = client.request("GET", path)
        return None if status == 200 and body else "GET %s: %d" % (path, status)


class SphinxBuild(Program):
    name = "Sphinx 5.3 building itsdangerous' API docs (sphinx-apidoc, autodoc)"
    short = "sphinx"
    server = False
    PACKAGE = "/usr/lib/python3/dist-packages/itsdangerous"

    def available(self):
        if not os.path.isdir(self.PACKAGE):
            return "python3-itsdangerous is not installed (a dependency of python3-flask)"
        return None

    def prepare(self, tmp, python):
        res = subprocess.run([python, "-m", "sphinx.ext.apidoc", "-q", "-e", "-F", "-o", os.path.join(tmp, "src"),
                              self.PACKAGE], capture_output=True, text=True, timeout=BOUND)
        if res.returncode != 0:
            raise RuntimeError("sphinx-apidoc failed: " + res.stderr[-500:])
        self.documents = len([f for f in os.listdir(os.path.join(tmp, "src")) if f.endswith(".rst")])
        self.runs = 0

    def argv(self, tmp):
        self.runs += 1
        self.out = os.path.join(tmp, "out%d" % self.runs)
        return ["-m", "sphinx", "-b", "html", "-E", os.path.join(tmp, "src"), self.out]

    def html_files(self):
        found = []
        for base, _, files in os.walk(self.out):
            found += [os.path.relpath(os.path.join(base, f), self.out) for f in files if f.endswith(".html")]
        return sorted(found)


def _as_from_a_terminal():
    # A shell starts background jobs with SIGINT ignored, and CPython keeps
    # an ignored SIGINT ignored: a test run from such a job (CI, nohup)
    # would start servers that Ctrl-C cannot stop. A user's server, started
    # from a terminal, has the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Target:
    """A program started under the oracle wrapper."""

    def __init__(self, program, python, tmp, watch_stdout=False):
        self.program = program
        self.output = []  # what it printed, when watch_stdout
        self.fifo = os.path.join(tmp, "oracle.fifo")
        if not os.path.exists(self.fifo):
            os.mkfifo(self.fifo)
        self.oracle_path = os.path.join(tmp, "oracle.json")
        self.stderr_path = os.path.join(tmp, "stderr-%d" % time.monotonic_ns())
        env = dict(os.environ, PYHEAP_ORACLE_OUT=self.oracle_path, PYHEAP_ORACLE_FIFO=self.fifo,
                   PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONPATH", None)
        env.update(program.env(tmp))
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([python, WRAPPER] + program.argv(tmp), cwd=program.cwd(tmp), env=env,
                                         stdin=subprocess.DEVNULL, stderr=err,
                                         stdout=subprocess.PIPE if watch_stdout else subprocess.DEVNULL,
                                         preexec_fn=_as_from_a_terminal)
        self.pid = self.proc.pid
        if watch_stdout:
            self.reader = threading.Thread(target=self._read_stdout, daemon=True)
            self.reader.start()

    def _read_stdout(self):
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                return
            self.output.append(chunk.decode(errors="replace"))

    def printed(self):
        return "".join(self.output)

    def error_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")[-1500:]

    def wait_listening(self, port):
        """The server's handshake: it accepts connections."""
        def accepts():
            if self.proc.poll() is not None:
                return True
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                return True
            except OSError:
                return False
        return harness.wait_until(accepts, BOUND) and self.proc.poll() is None

    def checkpoint(self):
        """Signals the wrapper; returns its oracle once written (the
        handshake), or None."""
        try:
            os.unlink(self.oracle_path)
        except FileNotFoundError:
            pass
        os.kill(self.pid, signal.SIGUSR2)
        if not harness.wait_until(lambda: os.path.exists(self.oracle_path) or self.proc.poll() is not None, BOUND):
            return None
        if self.proc.poll() is not None:
            return None
        with open(self.oracle_path) as f:
            return json.load(f)

    def release(self):
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)

    def stop(self):
        """Ends a server as its user would (Ctrl-C); returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "hung after SIGINT"
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000


def run_load(program, target, requests, during=None):
    """CLIENTS threads send requests until `requests` are done and `during`
    (run in this thread meanwhile) has returned. Returns the figures."""
    latencies, failures = [], []
    counter = [0]
    lock = threading.Lock()
    finished = threading.Event()
    clients = []
    for _ in range(CLIENTS):
        clients.append(program.connect(program.port))

    def worker(client, seed):
        i = seed
        while True:
            with lock:
                if counter[0] >= requests and finished.is_set():
                    return
                counter[0] += 1
            started = time.perf_counter()
            try:
                problem = program.step(client, i)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                problem = repr(e)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                if problem:
                    failures.append(problem)
            i += CLIENTS

    stop_listener = threading.Event()
    listener = None
    if hasattr(program, "listener"):
        listener = threading.Thread(target=program.listener, args=(program.port, stop_listener, failures))
        listener.start()
    threads = [threading.Thread(target=worker, args=(c, n)) for n, c in enumerate(clients)]
    started = time.time()
    for t in threads:
        t.start()
    extra = during(counter) if during else None
    finished.set()
    for t in threads:
        t.join()
    seconds = time.time() - started
    if listener:
        stop_listener.set()
        # one more message wakes the listener's last long poll
        try:
            program.step(clients[0], 0)
        except (OSError, http.client.HTTPException, ValueError):
            pass
        listener.join(BOUND)
    for c in clients:
        c.close()
    latencies.sort()
    return {"requests": len(latencies), "failed": len(failures), "first_failures": failures[:3],
            "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
            "max_ms": latencies[-1] * 1000 if latencies else 0.0, "seconds": seconds, "extra": extra}


def snapshots_back_to_back(target, tmp, count, progress=None):
    """Takes `count` snapshots (with the graph) one after another; returns
    (exit codes, pause in ms of each successful one)."""
    codes, pauses = [], []
    path = os.path.join(tmp, "load.json")
    for _ in range(count):
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", path, str(target.pid)], timeout=BOUND)
        codes.append((code, err.strip()[-300:]))
        if code == 0:
            with open(path) as f:
                pauses.append(json.load(f)["capture"]["pause_ms"])
    return codes, pauses


def tracked_nodes(snap):
    """address -> type name of every object on the GC lists."""
    g = snap["graph"]
    nodes, strings = g["nodes"], g["strings"]
    out = {}
    for i in range(0, len(nodes), 6):
        if nodes[i + 3] & 1 and not nodes[i + 3] & 8:
            out[nodes[i]] = strings[nodes[i + 1]]
    return out


def oracle_addresses(oracle):
    raw = bytes.fromhex(oracle["addresses"])
    return set(int.from_bytes(raw[i:i + 8], sys.byteorder) for i in range(0, len(raw), 8))


def counts_of(snap):
    return {t["name"]: t["count"] for t in snap["types"]}


def describe_difference(want, have, limit=12):
    names = sorted(set(want) | set(have))
    diffs = ["%s: %s, pyheap %s" % (n, want.get(n, 0), have.get(n, 0)) for n in names
             if want.get(n, 0) != have.get(n, 0)]
    return diffs[:limit]


def exact_checkpoint(program, target, tmp, figures):
    """Counts from inside while the program is frozen; two snapshots a
    second apart; compares. Returns the number of checks that failed."""
    label = program.short
    oracle = target.checkpoint()
    if oracle is None:
        R.fail("%s: the oracle answers the signal" % label, target.error_text())
        return
    a_path, b_path = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
    try:
        code_a, _, err_a = harness.run_pyheap(["snap", "-q", "-o", a_path, str(target.pid)], timeout=BOUND)
        time.sleep(1.0)  # on purpose: is the heap still the same a second later?
        code_b, _, err_b = harness.run_pyheap(["snap", "-q", "-o", b_path, str(target.pid)], timeout=BOUND)
    finally:
        target.release()
    if not R.check("%s: two snapshots of the checkpoint succeed" % label, code_a == 0 and code_b == 0,
                   "exit %d: %s / exit %d: %s" % (code_a, err_a, code_b, err_b)):
        return
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    nodes_a, nodes_b = tracked_nodes(a), tracked_nodes(b)
    frozen = counts_of(a) == counts_of(b) and nodes_a == nodes_b
    R.check("%s: the heap was frozen at the checkpoint (two snapshots 1 s apart agree: %d objects; the oracle "
            "waited out %d collection(s) in flight)" % (label, len(nodes_a), oracle["gc_waits"] + oracle["deferred"]),
            frozen,
            "the oracle did not freeze the program: %s" % describe_difference(counts_of(a), counts_of(b)))
    want = oracle["counts"]
    diffs = describe_difference(want, counts_of(a))
    total = sum(want.values())
    figures["checkpoint_objects"] = total
    figures["checkpoint_types"] = len(want)
    figures["checkpoint_pause_ms"] = a["capture"]["pause_ms"]
    ok_counts = R.check("%s: every type's count equals the program's own gc.get_objects() (%d objects, %d types)"
                        % (label, total, len(want)), not diffs and a["capture"]["objects"] == total,
                        "%d objects in the snapshot, %d in the oracle; differences:\n%s"
                        % (a["capture"]["objects"], total, "\n".join(diffs)))
    want_addresses = oracle_addresses(oracle)
    have_addresses = set(nodes_a)
    missing = want_addresses - have_addresses
    extra = have_addresses - want_addresses
    R.check("%s: the set of addresses equals the oracle's (%d)" % (label, len(want_addresses)),
            not missing and not extra and len(want_addresses) == total,
            "%d counted by the oracle but not in the snapshot, %d in the snapshot only (types %r)"
            % (len(missing), len(extra), sorted(set(nodes_a[x] for x in extra))[:10]))
    inexact = {t["name"] for t in a["types"] if not t.get("size_exact", True)}
    sizes = {t["name"]: t["size"] for t in a["types"] if t["name"] not in inexact}
    want_sizes = {k: v for k, v in oracle["sizes"].items() if k not in inexact}
    diffs = describe_difference(want_sizes, sizes)
    R.check("%s: sizes equal sys.getsizeof sums (%d types exact, %d not modelled)" % (label, len(sizes), len(inexact)),
            not diffs, "\n".join(diffs))
    figures["checkpoint_exact"] = ok_counts and not missing and not extra and frozen


def run_server(program, python, tmp, figures):
    label = program.short
    program.prepare(tmp, python)
    target = Target(program, python, tmp)
    try:
        if not R.check("%s: the server starts and accepts connections" % label, target.wait_listening(program.port),
                       target.error_text()):
            return
        base = run_load(program, target, REQUESTS)
        R.check("%s: %d requests with no snapshot, none failed (p50 %.2f ms, p99 %.2f ms)"
                % (label, base["requests"], base["p50_ms"], base["p99_ms"]), base["failed"] == 0,
                json.dumps(base["first_failures"]))

        def snapshots(counter):
            # start once the load is under way
            harness.wait_until(lambda: counter[0] >= CLIENTS * 5, BOUND)
            return snapshots_back_to_back(target, tmp, SNAPSHOTS)

        loaded = run_load(program, target, REQUESTS, snapshots)
        codes, pauses = loaded["extra"]
        bad = [c for c in codes if c[0] != 0]
        R.check("%s: %d requests during %d snapshots back to back: every snapshot made, no request failed "
                "(p50 %.2f ms, p99 %.2f ms, max %.1f ms)" % (label, loaded["requests"], len(codes), loaded["p50_ms"],
                                                             loaded["p99_ms"], loaded["max_ms"]),
                not bad and loaded["failed"] == 0, "snapshots failed: %r; requests failed: %r"
                % (bad[:2], loaded["first_failures"]))

        def checkpoint(counter):
            harness.wait_until(lambda: counter[0] >= CLIENTS * 5, BOUND)
            exact_checkpoint(program, target, tmp, figures)

        during = run_load(program, target, REQUESTS // 3, checkpoint)
        R.check("%s: %d requests around the checkpoint (held for two snapshots), none failed (max %.0f ms)"
                % (label, during["requests"], during["max_ms"]), during["failed"] == 0,
                json.dumps(during["first_failures"]))
        R.check("%s: the server is still running, untraced" % label, harness.target_running(target.pid),
                harness.describe(target.pid) + target.error_text())
        figures.update({"base": base, "loaded": loaded, "pauses": pauses})
        stopped = target.stop()
        # Ctrl-C: a clean exit, a KeyboardInterrupt traceback (1), or the
        # interpreter re-raising SIGINT on itself (-2, 130); anything else
        # (a crash) is a failure
        R.check("%s: the server stops on Ctrl-C like any other time (exit %r)" % (label, stopped),
                stopped in (0, 1, -signal.SIGINT, 128 + signal.SIGINT), target.error_text())
    finally:
        target.kill()


def run_sphinx(program, python, tmp, figures):
    """A build with no snapshot; a build with snapshots back to back from
    start to end; a build with an exact checkpoint once Sphinx says it is
    reading its third document."""
    label = program.short
    program.prepare(tmp, python)
    target = Target(program, python, tmp)
    started = time.time()
    code = target.proc.wait(timeout=BOUND * 3)
    base_seconds = time.time() - started
    if not R.check("%s: a build with no snapshot succeeds (%.1f s)" % (label, base_seconds), code == 0,
                   target.error_text()):
        return
    expected = program.html_files()

    target = Target(program, python, tmp)
    try:
        started = time.time()
        ended = []  # when the build itself ended, not the snapshot running then
        waiter = threading.Thread(target=lambda: (target.proc.wait(), ended.append(time.time())), daemon=True)
        waiter.start()
        codes, pauses = [], []
        while target.proc.poll() is None:
            more, more_pauses = snapshots_back_to_back(target, tmp, 1)
            if target.proc.poll() is not None and more[0][0] in (3, 5, 8):
                break  # the build ended under this snapshot
            codes += more
            pauses += more_pauses
        code = target.proc.wait(timeout=BOUND * 3)
        waiter.join()
        loaded_seconds = ended[0] - started
        bad = [c for c in codes if c[0] != 0]
        R.check("%s: %d snapshots back to back during a build of %d documents: all succeed, the build succeeds "
                "with the same %d pages (%.1f s, %.1f s without snapshots)"
                % (label, len(codes), program.documents, len(expected), loaded_seconds, base_seconds),
                code == 0 and not bad and len(codes) > 0 and program.html_files() == expected,
                "build exit %r, snapshot failures %r: %s" % (code, bad[:2], target.error_text()))
    finally:
        target.kill()
    figures.update({"base_seconds": base_seconds, "loaded_seconds": loaded_seconds, "snapshots": len(codes),
                    "pauses": pauses, "pages": len(expected), "documents": program.documents})

    target = Target(program, python, tmp, watch_stdout=True)
    try:
        # Sphinx's own progress report is the handshake
        harness.wait_until(lambda: target.printed().count("reading sources... [") >= 3
                           or target.proc.poll() is not None, BOUND)
        if target.proc.poll() is None:
            exact_checkpoint(program, target, tmp, figures)
        else:
            R.fail("%s: an exact checkpoint during the build" % label,
                   "the build ended before Sphinx reported reading 3 documents:\n" + target.printed()[-500:])
        code = target.proc.wait(timeout=BOUND * 3)
        R.check("%s: the build checkpointed while reading succeeds with the same pages" % label,
                code == 0 and program.html_files() == expected, "exit %r: %s" % (code, target.error_text()))
    finally:
        target.kill()


def write_doc(path, python_version, results):
    begin, end = "<!-- real-programs:begin -->", "<!-- real-programs:end -->"
    lines = [begin, "", "Written by `tests/test_real_programs.py --doc docs/reliability.md` on %s (%d cores, "
             "shared with other jobs: figures are noisy); Debian's CPython %s; do not edit by hand."
             % (time.strftime("%Y-%m-%d"), os.cpu_count(), python_version), "",
             "Servers: %d client threads in the test process, keep-alive connections; in the second run pyheap "
             "takes %d snapshots (with the graph) back to back while the load runs." % (CLIENTS, SNAPSHOTS), "",
             "| program | run | requests | failed | p50 | p99 | max | snapshots | pause (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for program, fig in results:
        if "base" not in fig:
            continue
        pauses = sorted(fig["pauses"])
        median = "%.0f ms" % pauses[len(pauses) // 2] if pauses else "-"
        for name, r, snaps, pause in (("no snapshots", fig["base"], "0", "-"),
                                      ("snapshots back to back", fig["loaded"], str(len(pauses)), median)):
            lines.append("| %s | %s | %d | %d | %.2f ms | %.2f ms | %.1f ms | %s | %s |"
                         % (program.name, name, r["requests"], r["failed"], r["p50_ms"], r["p99_ms"], r["max_ms"],
                            snaps, pause))
    for program, fig in results:
        if "base_seconds" in fig:
            pauses = sorted(fig["pauses"])
            lines += ["", "%s: %d documents, %d pages; %.1f s without snapshots, %.1f s with %d snapshots back "
                      "to back (median pause %.0f ms); both builds, and a third checkpointed while reading, succeeded "
                      "with the same pages." % (program.name, fig["documents"], fig["pages"], fig["base_seconds"],
                                           fig["loaded_seconds"], fig["snapshots"],
                                           pauses[len(pauses) // 2] if pauses else 0)]
    lines += ["", "Exact checkpoints (per-type counts and the set of addresses equal to the program's own "
              "`gc.get_objects()`, taken in the middle of traffic or of the build):", "",
              "| program | objects | types | exact | pause |", "|---|---|---|---|---|"]
    for program, fig in results:
        if "checkpoint_objects" in fig:
            lines.append("| %s | %d | %d | %s | %.1f ms |" % (program.name, fig["checkpoint_objects"],
                                                            fig["checkpoint_types"],
                                                            "yes" if fig.get("checkpoint_exact") else "NO",
                                                            fig["checkpoint_pause_ms"]))
    lines += ["", end]
    with open(path) as f:
        text = f.read()
    block = "\n".join(lines)
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only the program with this short name")
    parser.add_argument("--doc", help="rewrite the real-programs section of this file")
    args = parser.parse_args()
    if not os.path.exists(harness.PYHEAP):
        R.fail("pyheap binary", "%s does not exist: build first" % harness.PYHEAP)
        return R.finish()
    found = dict(interpreters.select(R, "debian-3.11"))
    python = found.get("debian-3.11")
    programs = [Flaskr(), TornadoChat(), AiohttpStatic(), SphinxBuild()]
    if args.only:
        programs = [p for p in programs if p.short == args.only]
    results = []
    for program in programs:
        if not python:
            R.skip(program.short, "needs Debian's python3.11 with python3.11-dbg")
            continue
        why = program.available()
        if why:
            R.skip(program.short, why)
            continue
        tmp = tempfile.mkdtemp(prefix="pyheap-real-")
        figures = {}
        try:
            if program.server:
                run_server(program, python, tmp, figures)
            else:
                run_sphinx(program, python, tmp, figures)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            R.fail("%s" % program.short, "%s: %s" % (type(e).__name__, e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        results.append((program, figures))
    if args.doc and python:
        version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                                 text=True).stdout.strip()
        write_doc(args.doc, version, results)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
