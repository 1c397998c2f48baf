"""Command line, bad input and safety: every error has its documented exit
code and a message that says what to do, and the target is left running
(never stopped, never traced) on every path, including pyheap being
signalled or killed, --timeout, and the target dying mid-snapshot."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "cli"))


target_running = harness.target_running
describe = harness.describe
wait_until = harness.wait_until


def test_usage():
    for args, name in (([], "no command"), (["bogus"], "unknown command"), (["snap"], "snap without PID"),
                       (["snap", "abc"], "PID not a number"), (["snap", "-t", "0", "1"], "zero timeout"),
                       (["snap", "--no-such-option", "1"], "unknown option")):
        code, _, err = harness.run_pyheap(args)
        R.check("usage: %s exits 2" % name, code == 2 and err.strip(), "exit %d, stderr %r" % (code, err))
    code, out, _ = harness.run_pyheap(["--help"])
    R.check("--help lists the exit codes", code == 0 and "Exit codes" in out and "permission" in out, out[:200])
    code, out, _ = harness.run_pyheap(["snap", "--help"])
    R.check("snap --help", code == 0 and "--timeout" in out, out[:200])


def test_no_process():
    code, _, err = harness.run_pyheap(["snap", "4194000"])
    R.check("no such process exits 3", code == 3 and "no process" in err, "exit %d: %s" % (code, err))


def test_not_python():
    proc = subprocess.Popen(["sleep", "60"])
    # let the exec finish: a process caught mid-exec is still its parent's image
    # (bounded only against a hang: on a cold cache the exec can take seconds)
    wait_until(lambda: os.readlink("/proc/%d/exe" % proc.pid).endswith("sleep"), 120)
    try:
        code, _, err = harness.run_pyheap(["snap", str(proc.pid)])
        R.check("not a Python process exits 5", code == 5 and "not a CPython" in err, "exit %d: %s" % (code, err))
        R.check("non-Python target left running", target_running(proc.pid), describe(proc.pid))
    finally:
        proc.kill()
        proc.wait()


def test_unsupported():
    root = interpreters.pyenv_root()
    for version, binary in (("2.7", "python2.7"), ("3.6", "python3.6"), ("3.7", "python3.7")):
        paths = sorted(__import__("glob").glob(os.path.join(root or "/nonexistent", "versions", version + ".*", "bin", binary)))
        name = "Python %s is refused with exit 7" % version
        if not paths:
            R.skip(name, "no pyenv Python %s installed" % version)
            continue
        try:
            proc = harness.start_ready([paths[-1], "-c", harness.ready_code()])
        except RuntimeError as e:
            R.fail(name, str(e))
            continue
        try:
            code, _, err = harness.run_pyheap(["snap", str(proc.pid)])
            R.check(name, code == 7 and "3.8 and later" in err, "exit %d: %s" % (code, err))
            R.check("Python %s target left running" % version, target_running(proc.pid), describe(proc.pid))
        finally:
            proc.kill()
            proc.wait()


def first_pyenv(minor=12):
    found, _ = interpreters.find()
    for label, path in found:
        if label == "pyenv-3.%d" % minor:
            return path
    return found[0][1] if found else None


def test_no_debuginfo():
    python = first_pyenv(12)
    name = "no debug info exits 6 and says what to install"
    if not python or not shutil.which("objcopy"):
        R.skip(name, "needs pyenv 3.12 and objcopy")
        return
    libdir = os.path.join(os.path.dirname(os.path.dirname(python)), "lib")
    libs = [f for f in os.listdir(libdir) if f.startswith("libpython3.12.so.")]
    if not libs:
        R.skip(name, "pyenv 3.12 has no shared libpython")
        return
    tmp = tempfile.mkdtemp(prefix="pyheap-nodebug-")
    try:
        lib = sorted(libs, key=len)[-1]
        subprocess.run(["objcopy", "--strip-debug", os.path.join(libdir, lib), os.path.join(tmp, lib)], check=True)
        env = dict(os.environ, LD_LIBRARY_PATH=tmp)
        env.pop("DEBUGINFOD_URLS", None)
        try:
            proc = harness.start_ready([python, "-c", harness.ready_code()], env=env)
        except RuntimeError as e:
            R.fail(name, str(e))
            return
        try:
            res = subprocess.run([harness.PYHEAP, "snap", str(proc.pid)], capture_output=True, text=True, env=env)
            code, err = res.returncode, res.stderr
            R.check(name, code == 6 and "python3.12-dbg" in err and "build-id" in err and "DEBUGINFOD_URLS" in err,
                    "exit %d: %s" % (code, err))
            R.check("target without debug info left running", target_running(proc.pid), describe(proc.pid))
        finally:
            proc.kill()
            proc.wait()
    finally:
        shutil.rmtree(tmp)


def test_permission():
    name = "another user's process exits 4 and names the cause"
    python = first_pyenv(12)
    if os.geteuid() != 0 or not shutil.which("setpriv") or not python:
        R.skip(name, "needs root, setpriv and a Python")
        return
    try:
        proc = harness.start_ready([python, "-c", harness.ready_code()])
    except RuntimeError as e:
        R.fail(name, str(e))
        return
    tmp = tempfile.mkdtemp(prefix="pyheap-perm-")
    try:
        # a copy nobody may execute (the build tree may not be readable to it)
        exe = os.path.join(tmp, "pyheap")
        shutil.copy(harness.PYHEAP, exe)
        os.chmod(tmp, 0o755)
        os.chmod(exe, 0o755)
        res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                              exe, "snap", str(proc.pid)], capture_output=True, text=True)
        R.check(name, res.returncode == 4 and ("uid" in res.stderr or "ptrace" in res.stderr),
                "exit %d: %s" % (res.returncode, res.stderr))
        R.check("target of a refused snapshot left running", target_running(proc.pid), describe(proc.pid))
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp)


def test_output(python):
    fixture = harness.Fixture(python, "idle_threads.py")
    try:
        if fixture.oracle is None:
            R.fail("output tests", "fixture did not start: " + fixture.error_text())
            return
        code, _, err = harness.run_pyheap(["snap", "-o", "/nonexistent-dir/x.json", str(fixture.pid)])
        R.check("unwritable -o exits 11 before stopping the target", code == 11 and "/nonexistent-dir" in err,
                "exit %d: %s" % (code, err))
        tmp = tempfile.mkdtemp(prefix="pyheap-out-")
        path = os.path.join(tmp, "snap.json")
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", path, str(fixture.pid)])
        ok = code == 0 and os.path.exists(path)
        R.check("-o writes the snapshot", ok, "exit %d: %s" % (code, err))
        if ok:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            R.check("snapshot file is mode 0600", mode == 0o600, "mode %o" % mode)
            with open(path) as f:
                data = json.load(f)
            counts = [t["count"] for t in data["types"]]
            R.check("format header and sorted types",
                    data["format"] == "pyheap-snapshot" and data["version"] == 1 and counts == sorted(counts, reverse=True)
                    and data["capture"]["pause_ms"] > 0 and data["target"]["pid"] == fixture.pid
                    and data["target"]["threads"] >= 5,
                    json.dumps(data)[:300])
        shutil.rmtree(tmp)
        R.check("target running after the output tests", target_running(fixture.pid), describe(fixture.pid))
        R.check("target finished normally after the output tests", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()


def held_pyheap(pid, extra_args=(), hold_ms=8000):
    """Starts pyheap so that it keeps the target stopped for hold_ms."""
    env = dict(os.environ, PYHEAP_TEST_HOLD_MS=str(hold_ms))
    return subprocess.Popen([harness.PYHEAP, "snap", "-q", "-o", "/dev/null"] + list(extra_args) + [str(pid)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


all_threads_stopped = harness.all_threads_stopped


def test_held(python):
    cases = [("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM), ("SIGHUP", signal.SIGHUP),
             ("SIGQUIT", signal.SIGQUIT), ("SIGKILL", signal.SIGKILL)]
    for name, sig in cases:
        fixture = harness.Fixture(python, "idle_threads.py")
        try:
            if fixture.oracle is None:
                R.fail("%s during a snapshot" % name, "fixture did not start: " + fixture.error_text())
                continue
            pyheap = held_pyheap(fixture.pid)
            stopped = wait_until(lambda: all_threads_stopped(fixture.pid))
            R.check("every thread stopped while held (%s case)" % name, stopped, describe(fixture.pid))
            pyheap.send_signal(sig)
            pyheap.wait(timeout=30)
            released = wait_until(lambda: target_running(fixture.pid), 5)
            R.check("%s to pyheap releases the target" % name, released and pyheap.returncode != 0,
                    "pyheap exit %r; %s" % (pyheap.returncode, describe(fixture.pid)))
            R.check("target finishes normally after %s to pyheap" % name, fixture.release() == 0, fixture.error_text())
        finally:
            fixture.close()

    fixture = harness.Fixture(python, "idle_threads.py")
    try:
        start = time.time()
        pyheap = held_pyheap(fixture.pid, ["--timeout", "1"], hold_ms=20000)
        pyheap.wait(timeout=30)
        took = time.time() - start
        err = pyheap.stderr.read().decode()
        R.check("--timeout expiry exits 9 and releases the target",
                pyheap.returncode == 9 and "timeout" in err and wait_until(lambda: target_running(fixture.pid), 5),
                "exit %r after %.1fs: %s; %s" % (pyheap.returncode, took, err, describe(fixture.pid)))
        R.check("target finishes normally after a timeout", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()

    fixture = harness.Fixture(python, "idle_threads.py")
    tmp = tempfile.mkdtemp(prefix="pyheap-kill-")
    try:
        old = os.path.join(tmp, "old.json")
        with open(old, "w") as f:
            f.write("previous snapshot")
        env = dict(os.environ, PYHEAP_TEST_HOLD_MS="3000")
        pyheap = subprocess.Popen([harness.PYHEAP, "snap", "-q", "-o", old, str(fixture.pid)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_until(lambda: all_threads_stopped(fixture.pid))
        os.kill(fixture.pid, signal.SIGKILL)
        pyheap.wait(timeout=60)
        err = pyheap.stderr.read().decode()
        R.check("target killed mid-snapshot: exit 8", pyheap.returncode == 8 and "exited" in err,
                "exit %r: %s" % (pyheap.returncode, err))
        with open(old) as f:
            kept = f.read()
        R.check("a failed snapshot leaves the old output file alone",
                kept == "previous snapshot" and os.listdir(tmp) == ["old.json"], "%r, files %r" % (kept, os.listdir(tmp)))
    finally:
        fixture.close()
        shutil.rmtree(tmp)
    R.check("/dev/null is still a character device after failed snapshots to it",
            stat.S_ISCHR(os.stat("/dev/null").st_mode), "mode %o" % os.stat("/dev/null").st_mode)


def test_job_control(python):
    """A target stopped by SIGSTOP stays stopped after a snapshot."""
    fixture = harness.Fixture(python, "idle_threads.py")
    try:
        os.kill(fixture.pid, signal.SIGSTOP)
        wait_until(lambda: all_threads_stopped(fixture.pid))
        code, data, err = harness.snapshot(fixture.pid, timeout=60)
        R.check("snapshot of a SIGSTOPped target succeeds", code == 0, "exit %d: %s" % (code, err))
        # pyheap has exited, so it has detached: a wrong resume (a SIGCONT, a
        # detach that restarts the group-stopped threads) has already
        # changed the state the kernel reports; no wait needed
        R.check("SIGSTOPped target is still stopped afterwards, untraced",
                harness.process_state(fixture.pid) == "T" and all_threads_stopped(fixture.pid)
                and not harness.traced_threads(fixture.pid) and harness.tracer_pid(fixture.pid) == 0,
                describe(fixture.pid))
        os.kill(fixture.pid, signal.SIGCONT)
        R.check("target continues and finishes after SIGCONT", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()


def test_busy_collector(python):
    """Stops that land inside a collection are released and retried; the
    snapshot that comes out is whole."""
    proc = subprocess.Popen([python, os.path.join(harness.FIXTURES, "busy_collector.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc.stdout.readline()  # "ready": its collect loop starts now
        results = []
        for _ in range(10):
            code, data, err = harness.snapshot(proc.pid, timeout=120)
            results.append((code, data, err))
        ok = [d for c, d, e in results if c == 0]
        errors = [e.strip() for c, d, e in results if c != 0]
        R.check("10 snapshots of a target that collects nonstop all succeed", len(ok) == 10,
                "%d failed: %s" % (10 - len(ok), errors[:2]))
        attempts = sum(d["capture"]["attempts"] for d in ok)
        R.check("stops inside a collection were retried (%d stops for %d snapshots)" % (attempts, len(ok)),
                attempts > len(ok), "every first stop found the collector idle")
        nodes = [dict((t["name"], t["count"]) for t in d["types"]).get("__main__.Node", 0) for d in ok]
        R.check("every snapshot is whole: 300000 kept nodes, plus at most 100 live and 100 garbage",
                all(300000 <= n <= 300200 for n in nodes), "Node counts %r" % nodes)
        R.check("busy target left running", target_running(proc.pid), describe(proc.pid))
    finally:
        proc.kill()
        proc.wait()


def test_proc_mem_fallback(python):
    fixture = harness.Fixture(python, "idle_threads.py")
    try:
        env = dict(os.environ, PYHEAP_FORCE_PROC_MEM="1")
        res = subprocess.run([harness.PYHEAP, "snap", "-q", str(fixture.pid)], capture_output=True, env=env)
        code, data, err = harness.snapshot(fixture.pid)
        same = res.returncode == 0 and code == 0 and json.loads(res.stdout)["types"] == data["types"]
        R.check("/proc/PID/mem fallback gives the same snapshot as process_vm_readv", same,
                "exit %d/%d: %s %s" % (res.returncode, code, res.stderr.decode(), err))
        counts = dict((t["name"], t["count"]) for t in data["types"]) if data else {}
        R.check("fallback snapshot matches the oracle", counts == fixture.oracle["counts"], "differs")
        fixture.release()
    finally:
        fixture.close()


def test_chain(python):
    fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": "50"})
    tmp = tempfile.mkdtemp(prefix="pyheap-chain-")
    try:
        if fixture.oracle is None:
            R.fail("chain tests", "fixture did not start: " + fixture.error_text())
            return
        snap = os.path.join(tmp, "a.json")
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", snap, str(fixture.pid)])
        if not R.check("snapshot for the chain tests", code == 0, err):
            return
        code, out, err = harness.run_pyheap(["chain", "--type", "Book", snap])
        R.check("chain --type Book reads module -> dict -> exception -> traceback -> frame -> Book",
                code == 0 and all(s in out for s in ("module __main__", "['ParseBookException']",
                                                      "Exception('parse book failed!')", ".__traceback__",
                                                      ".tb_frame", "local 'book'", "__main__.Book at 0x")),
                "exit %d:\n%s%s" % (code, out, err))
        code, out2, _ = harness.run_pyheap(["chain", "--type", "__main__.Book", snap])
        R.check("qualified and short type names give the same chain",
                code == 0 and out2.split("\n", 1)[1] == out.split("\n", 1)[1], out2)
        code, out, err = harness.run_pyheap(["chain", "--type", "Bok", snap])
        R.check("no match: exit 13 and the closest type names", code == 13 and "__main__.Book" in err,
                "exit %d: %s" % (code, err))
        code, out, err = harness.run_pyheap(["chain", "--json", "--max", "3", "--type", "Book", snap])
        try:
            data = json.loads(out)
            ok = code == 0 and len(data["chains"]) == 3 and data["chains"][0]["hops"][0]["node"] == "module __main__"
        except (ValueError, KeyError, IndexError):
            ok = False
        R.check("chain --json --max 3", ok, out[:300] + err)
        address = data["chains"][0]["address"] if ok else 0
        code, out, err = harness.run_pyheap(["chain", "--address", "%x" % address, snap])
        R.check("chain --address explains one object", code == 0 and ("at 0x%x" % address) in out, out + err)
        code, out, err = harness.run_pyheap(["chain", "--type", "Book", "--all", snap])
        R.check("chain --all prints one chain per object", code == 0 and out.count("__main__.Book at 0x") == 50,
                "%d chains" % out.count("__main__.Book at 0x"))
        dot = os.path.join(tmp, "chain.dot")
        code, out, err = harness.run_pyheap(["chain", "--type", "Book", "--dot", dot, snap])
        ok = code == 0 and open(dot).read().startswith("digraph ObjectGraph")
        if ok and shutil.which("dot"):
            ok = subprocess.run(["dot", "-Tsvg", dot], capture_output=True).returncode == 0
        R.check("chain --dot writes a Graphviz graph%s" % (" that dot renders" if shutil.which("dot") else ""),
                ok, err)
        code, out, err = harness.run_pyheap(["chain", "--type", "Book", "--pid", str(fixture.pid)])
        R.check("chain --pid snapshots the live process", code == 0 and "local 'book'" in out, out + err)
        R.check("target running after the chain tests", target_running(fixture.pid), describe(fixture.pid))

        # bad snapshots: a clear message and exit 12, never a crash
        nograph = os.path.join(tmp, "nograph.json")
        harness.run_pyheap(["snap", "-q", "--no-graph", "-o", nograph, str(fixture.pid)])
        with open(snap, "rb") as f:
            whole = f.read()
        cases = [("a snapshot without a graph", nograph, "no reference graph"),
                 ("a truncated snapshot", whole[: len(whole) * 2 // 3], "not a valid pyheap snapshot"),
                 ("a newer format version", whole.replace(b'"version": 1', b'"version": 2', 1), "version 2"),
                 ("another JSON document", b'{"format": "other", "version": 1}', "not a pyheap snapshot"),
                 ("not JSON at all", b"\x7fELF garbage", "not a valid pyheap snapshot"),
                 ("an empty file", b"", "empty"),
                 ("a missing file", None, "cannot open")]
        for name, content, message in cases:
            path = content if isinstance(content, str) else os.path.join(tmp, "bad.json")
            if isinstance(content, bytes):
                with open(path, "wb") as f:
                    f.write(content)
            elif content is None:
                path = os.path.join(tmp, "does-not-exist.json")
            code, out, err = harness.run_pyheap(["chain", "--type", "Book", path])
            R.check("chain on %s: exit 12 and says why" % name, code == 12 and message in err,
                    "exit %d: %s" % (code, err))
        fixture.release()
    finally:
        fixture.close()
        shutil.rmtree(tmp)


def main():
    if not os.path.exists(harness.PYHEAP):
        R.fail("pyheap binary", "%s does not exist: build first" % harness.PYHEAP)
        return R.finish()
    test_usage()
    test_no_process()
    test_not_python()
    test_unsupported()
    test_no_debuginfo()
    test_permission()
    python = first_pyenv(12)
    if not python:
        R.skip("safety tests", "no CPython found")
    else:
        test_output(python)
        test_held(python)
        test_job_control(python)
        test_busy_collector(python)
        test_proc_mem_fallback(python)
        test_chain(python)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
