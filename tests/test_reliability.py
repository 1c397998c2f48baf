"""Faults, load and hostile input: pyheap never crashes and never hurts the
target. See docs/reliability.md for the guarantee each test proves.

Usage: test_reliability.py [--quick] [--latency-doc FILE]
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402
from harness import target_running, describe, wait_until  # noqa: E402

SUITE = os.environ.get("PYHEAP_SUITE_NAME", "reliability")
R = harness.Results(SUITE)
SANITIZED = "sanitized" in SUITE


POLICIES = ("copy", "sparse", "stopped")


def interruptions(pythons, total, policy):
    """pyheap interrupted by a signal at a random moment of a snapshot,
    reading the heap the given way."""
    rng = random.Random(20261121)
    per = max(1, -(-total // len(pythons)))
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
    for label, python in pythons:
        fixture = harness.Fixture(python, "idle_threads.py", capture_stdout=True)
        label = "%s [%s]" % (label, policy)
        try:
            if fixture.oracle is None:
                R.fail("%s interruptions" % label, "fixture did not start: " + fixture.error_text())
                continue
            bad = []
            for i in range(per):
                sig = rng.choice(signals)
                proc = subprocess.Popen([harness.PYHEAP, "snap", "-q", "--policy", policy,
                                         "-o", os.path.join(fixture.tmp, "s.json"),
                                         str(fixture.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0, 0.03))
                proc.send_signal(sig)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    bad.append("%d: pyheap did not end after %s" % (i, sig.name))
                if not wait_until(lambda: target_running(fixture.pid), 5):
                    bad.append("%d: after %s: %s" % (i, sig.name, describe(fixture.pid)))
                    break
            R.check("%s: %d signals at random moments of a snapshot; the target runs on, untraced, every time"
                    % (label, per), not bad, "\n".join(bad[:5]))
            code = fixture.release()
            R.check("%s: after them the target finishes normally, its stdout untouched" % label,
                    code == 0 and fixture.output_text() == "finished\n",
                    "exit %r, stdout %r" % (code, fixture.output_text()[:200]))
        finally:
            fixture.close()


def busy(python, label, count):
    """A target allocating in 8 threads and raising in a 9th, snapshotted
    back to back: every snapshot complete and consistent."""
    keep = 500
    proc = subprocess.Popen([python, os.path.join(harness.FIXTURES, "busy_threads.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYHEAP_KEEP=str(keep)))
    tmp = tempfile.mkdtemp(prefix="pyheap-busy-")
    try:
        proc.stdout.readline()
        failures, retried, items = [], 0, []
        started = time.time()
        for i in range(count):
            path = os.path.join(tmp, "s.json")
            code, _, err = harness.run_pyheap(["snap", "-q", "-o", path, str(proc.pid)], timeout=120)
            if code != 0:
                failures.append("snapshot %d: exit %d: %s" % (i, code, err.strip()))
                continue
            with open(path) as f:
                snap = json.load(f)
            g = snap["graph"]
            retried += snap["capture"]["attempts"] > 1
            n_items = {t["name"]: t["count"] for t in snap["types"]}.get("__main__.Item", 0)
            items.append(n_items)
            problems = []
            if not snap["capture"]["complete"] or snap["capture"]["unreadable_objects"]:
                problems.append("incomplete or unreadable objects")
            if g["invalid_referents"]:
                problems.append("%d invalid referents" % g["invalid_referents"])
            if max(g["edges"][0::3] or [0]) >= g["node_count"]:
                problems.append("an edge to a missing node")
            if sum(g["nodes"][5::6]) != g["edge_count"]:
                problems.append("edge counts do not add up")
            if not 0 <= n_items <= 8 * keep + 8:
                problems.append("%d Items, outside [0, %d]" % (n_items, 8 * keep + 8))
            if problems:
                failures.append("snapshot %d: %s" % (i, ", ".join(problems)))
        took = time.time() - started
        R.check("%s: %d snapshots of a target allocating in 8 threads and raising in a 9th: all complete and "
                "consistent (%d needed a retry; Items seen %d..%d; %.1f s)"
                % (label, count, retried, min(items or [0]), max(items or [0]), took),
                not failures, "\n".join(failures[:5]))
        R.check("%s: the busy target is still running and responsive" % label,
                target_running(proc.pid) or harness.process_state(proc.pid) == "R", describe(proc.pid))
        proc.stdin.close()
        try:
            out = proc.stdout.read().decode()
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code, out = None, ""
        R.check("%s: the busy target shuts down normally afterwards" % label, code == 0 and "finished" in out,
                "exit %r: %s" % (code, proc.stderr.read().decode()[-500:]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp)


def fork_exec(python, label):
    """Snapshots while the target forks children and finally execs. The
    target execs when told to (a byte on its stdin), from another thread
    while snapshots run back to back, so the exec lands at whatever moment
    of a snapshot it lands; snapshots go on until one meets /bin/sleep."""
    proc = subprocess.Popen([python, os.path.join(harness.FIXTURES, "fork_exec.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc.stdout.readline()
        codes, slow = [], []

        def snap_once():
            started = time.time()
            try:
                code, _, err = harness.run_pyheap(["snap", "-q", "--timeout", "10", "-o", "/dev/null", str(proc.pid)],
                                                  timeout=60)
            except subprocess.TimeoutExpired:
                code = "hung"
            if time.time() - started > 15:
                slow.append(time.time() - started)
            codes.append(code)
            return code

        # some snapshots of the forking Python first, then the exec order
        # from a thread while they go on
        while len(codes) < 30 and snap_once() != "hung":
            pass

        def order_exec():
            time.sleep(random.Random(len(codes)).uniform(0, 0.2))  # any moment of the next snapshots
            try:
                proc.stdin.write(b"x")
                proc.stdin.flush()
            except OSError:
                pass

        trigger = threading.Thread(target=order_exec)
        trigger.start()
        deadline = time.time() + 120  # only against a hang
        while time.time() < deadline and snap_once() not in (5, "hung"):
            pass
        trigger.join()
        allowed = {0, 5, 8}  # 8: exec'd during the snapshot; 5: already not Python
        R.check("%s: %d snapshots while the target forks and then execs: each ends in bounded time with 0, "
                "8 (target exec'd) or 5 (no longer Python); seen %s" % (label, len(codes), sorted(set(codes), key=str)),
                set(codes) <= allowed and not slow and 5 in codes, "codes %r, slow %r" % (codes, slow))
        R.check("%s: the target (now /bin/sleep) is running, untraced" % label, target_running(proc.pid),
                describe(proc.pid))
    finally:
        proc.kill()
        proc.wait()


def http_load(python, label, snapshots, requests, doc):
    """A ThreadingHTTPServer under load while it is snapshotted."""
    proc = subprocess.Popen([python, os.path.join(harness.FIXTURES, "http_server.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline())

        def load(n, latencies, failures):
            conn = None
            for i in range(n):
                started = time.perf_counter()
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("GET", "/item/%d" % (i % 50))
                    response = conn.getresponse()
                    body = response.read()
                    if response.status != 200 or not body:
                        failures.append("status %d" % response.status)
                except (OSError, http.client.HTTPException) as e:
                    failures.append(repr(e))
                    conn = None
                latencies.append(time.perf_counter() - started)

        def run(with_snapshots):
            latencies, failures, threads = [], [], []
            per_thread = requests // 4
            for _ in range(4):
                threads.append(threading.Thread(target=load, args=(per_thread, latencies, failures)))
            snap_codes = []

            def snapper():
                for _ in range(snapshots):
                    code, _, _ = harness.run_pyheap(["snap", "-q", "-o", "/dev/null", str(proc.pid)])
                    snap_codes.append(code)

            started = time.time()
            for t in threads:
                t.start()
            snapper_thread = threading.Thread(target=snapper) if with_snapshots else None
            if snapper_thread:
                snapper_thread.start()
            for t in threads:
                t.join()
            if snapper_thread:
                snapper_thread.join()
            latencies.sort()
            pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
            return {"requests": len(latencies), "failed": len(failures), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                    "max_ms": latencies[-1] * 1000, "seconds": time.time() - started,
                    "snapshots": len(snap_codes), "snapshot_failures": sum(1 for c in snap_codes if c != 0),
                    "first_failures": failures[:3]}

        base = run(False)
        loaded = run(True)
        R.check("%s: HTTP server, %d requests with no snapshot: none failed (p50 %.2f ms, p99 %.2f ms)"
                % (label, base["requests"], base["p50_ms"], base["p99_ms"]), base["failed"] == 0, json.dumps(base))
        R.check("%s: HTTP server, %d requests during %d snapshots: none failed, every snapshot made "
                "(p50 %.2f ms, p99 %.2f ms, max %.1f ms)"
                % (label, loaded["requests"], loaded["snapshots"], loaded["p50_ms"], loaded["p99_ms"],
                   loaded["max_ms"]),
                loaded["failed"] == 0 and loaded["snapshot_failures"] == 0 and loaded["snapshots"] == snapshots,
                json.dumps(loaded))
        if doc:
            write_latency_doc(doc, label, python, base, loaded)
    finally:
        proc.kill()
        proc.wait()


def write_latency_doc(path, label, python, base, loaded):
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    with open(path, "w") as f:
        f.write("# Request latency while pyheap snapshots a server\n\n")
        f.write("Written by `tests/test_reliability.py --latency-doc docs/latency.md` on %s "
                "(%d cores); do not edit by hand.\n\n" % (time.strftime("%Y-%m-%d"), os.cpu_count()))
        f.write("The target is the standard library's ThreadingHTTPServer (fixtures/http_server.py) "
                "under CPython %s, on 127.0.0.1; 4 client threads with keep-alive connections send "
                "the requests. In the second run another thread takes snapshots (with the graph) back to "
                "back while the load runs.\n\n" % version)
        f.write("| run | requests | failed | p50 | p99 | max | snapshots |\n|---|---|---|---|---|---|---|\n")
        for name, r in (("no snapshots", base), ("snapshots back to back", loaded)):
            f.write("| %s | %d | %d | %.2f ms | %.2f ms | %.1f ms | %d |\n"
                    % (name, r["requests"], r["failed"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["snapshots"]))
        f.write("\nA request that arrives while the server is stopped waits for the pause; "
                "the p99 and max show it.\n")


def corruption(pythons, seeds, policy):
    """Random bit flips in pyheap's copy of the target's memory (or in
    what it reads while the target is stopped), reading the heap the
    given way."""
    fixtures = []
    try:
        for label, python in pythons:
            fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": "200"})
            if fixture.oracle is None:
                R.fail("%s corruption" % label, "fixture did not start")
                fixture.close()
                continue
            fixtures.append((label, fixture))
        for label, fixture in fixtures:
            bad, partial, complete = [], 0, 0
            for seed in range(1, seeds + 1):
                rate = (10, 100, 1000)[seed % 3]
                path = os.path.join(fixture.tmp, "c.json")
                env = dict(os.environ, PYHEAP_TEST_CORRUPT="%d:%d" % (seed, rate))
                started = time.time()
                try:
                    res = subprocess.run([harness.PYHEAP, "snap", "-q", "--attempts", "3", "--policy", policy,
                                      "-o", path, str(fixture.pid)], capture_output=True, env=env, timeout=120)
                except subprocess.TimeoutExpired:
                    bad.append("seed %d: no end after 120 s" % seed)
                    continue
                took = time.time() - started
                if res.returncode not in (0, 10):
                    bad.append("seed %d rate %d: exit %d: %s" % (seed, rate, res.returncode, res.stderr.decode()[-300:]))
                    continue
                with open(path) as f:
                    snap = json.load(f)
                if res.returncode == 10:
                    partial += 1
                    if snap["capture"]["complete"] or not snap["capture"].get("problem"):
                        bad.append("seed %d: partial but not marked so" % seed)
                else:
                    complete += 1
                if took > 60:
                    bad.append("seed %d: took %.0f s" % (seed, took))
            R.check("%s [%s]: %d snapshots of bit-flipped memory end in bounded time without a crash%s (%d "
                    "complete, %d partial and marked so)" % (label, policy, seeds,
                                                             " or a sanitizer report" if SANITIZED else "",
                                                             complete, partial), not bad, "\n".join(bad[:5]))
            R.check("%s [%s]: the target is untouched by all that" % (label, policy),
                    target_running(fixture.pid) and fixture.release() == 0, describe(fixture.pid))
    finally:
        for _, fixture in fixtures:
            fixture.close()


def memory_digest(pid):
    """SHA-256 of every readable, writable private mapping of pid."""
    digest = hashlib.sha256()
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw") or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                digest.update(mem.read(end - start))
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


def memory_unchanged(python, label):
    # glibc registers each thread's rseq area, where the kernel writes the
    # CPU a thread runs on whenever it is scheduled: a thread resumed on
    # another CPU changes those bytes with no help from pyheap. Turning
    # the registration off leaves only what a snapshot could change.
    fixture = harness.Fixture(python, "idle_threads.py", {"GLIBC_TUNABLES": "glibc.pthread.rseq=0"})
    try:
        before = memory_digest(fixture.pid)
        again = memory_digest(fixture.pid)
        if before != again:
            R.skip("%s: memory checksum across a snapshot" % label, "the idle target's memory changes by itself")
            return
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", os.path.join(fixture.tmp, "s.json"), str(fixture.pid)])
        after = memory_digest(fixture.pid)
        R.check("%s: the SHA-256 of all the target's writable memory is the same before and after a snapshot"
                % label, code == 0 and before == after, "exit %d %s; %s vs %s" % (code, err, before, after))
        fixture.release()
    finally:
        fixture.close()


def secrets(python, label):
    fixture = harness.Fixture(python, "secrets_and_escapes.py")
    try:
        plain = os.path.join(fixture.tmp, "plain.json")
        redacted = os.path.join(fixture.tmp, "redacted.json")
        c1, _, e1 = harness.run_pyheap(["snap", "-q", "-o", plain, str(fixture.pid)])
        c2, _, e2 = harness.run_pyheap(["snap", "-q", "--redact", "-o", redacted, str(fixture.pid)])
        with open(plain, "rb") as f:
            plain_bytes = f.read()
        with open(redacted, "rb") as f:
            redacted_bytes = f.read()
        R.check("%s: without --redact the secrets are in the snapshot (so the next check means something)" % label,
                c1 == 0 and b"7Hq2SECRET" in plain_bytes and b"hunter2SECRET" in plain_bytes, e1)
        R.check("%s: with --redact neither the dict key nor the exception message is in the snapshot" % label,
                c2 == 0 and b"SECRET" not in redacted_bytes and b"<redacted" in redacted_bytes
                and json.loads(redacted_bytes)["capture"]["redacted"], e2)
        code, out, err = harness.run_pyheap(["chain", "--type", "Book", "--all", plain])
        raw = (out + err).encode()
        R.check("%s: chain prints a key holding ANSI escapes and C1 controls escaped, never raw" % label,
                code == 0 and b"\x1b" not in raw and b"\x07" not in raw and "\u009b".encode() not in raw
                and "\\x1b[2J" in out, repr(out[-400:]))
        fixture.release()
    finally:
        fixture.close()


def valgrind(python, label):
    if SANITIZED:
        R.skip("%s: valgrind memcheck of a snapshot" % label, "not with a sanitizer build")
        return
    if not shutil.which("valgrind"):
        R.skip("%s: valgrind memcheck of a snapshot" % label, "valgrind is not installed")
        return
    fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": "100"})
    try:
        res = subprocess.run(["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
                              "-q", harness.PYHEAP, "snap", "-q", "-o", os.path.join(fixture.tmp, "v.json"),
                              str(fixture.pid)], capture_output=True, timeout=600)
        R.check("%s: one snapshot is clean under valgrind memcheck" % label, res.returncode == 0,
                res.stderr.decode()[-1500:])
        fixture.release()
    finally:
        fixture.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--latency-doc", help="write the HTTP latency table to this file")
    args = parser.parse_args()
    found = interpreters.select(R)
    pythons = [(label, python) for label, python in found if label.startswith(("pyenv-", "debian-"))]
    if not pythons:
        R.fail("interpreters", "no CPython found")
        return R.finish()
    by_label = dict(found)
    main_label = "pyenv-3.12" if "pyenv-3.12" in by_label else found[0][0]
    main_python = by_label[main_label]
    for policy in POLICIES:
        interruptions(pythons, 36 if args.quick else 120, policy)
    busy(main_python, main_label, 25 if args.quick else 100)
    old = [p for p in pythons if p[0] == "pyenv-3.8"]
    if old and not args.quick:
        busy(old[0][1], old[0][0], 30)
    fork_exec(main_python, main_label)
    http_load(main_python, main_label, 50, 4000, args.latency_doc)
    for policy in POLICIES:
        corruption([p for p in pythons if p[0] in ("pyenv-3.8", "pyenv-3.12", "pyenv-3.13", "debian-3.11")],
                   4 if args.quick else 12, policy)
    memory_unchanged(main_python, main_label)
    secrets(main_python, main_label)
    valgrind(main_python, main_label)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
