"""Snapshots from standard input: pyheap's commands as filters.

Two snapshots of fixtures/growth.py (at its two checkpoints) are taken to
files; then every command that reads snapshots (chain, diff, top,
suspects, export, report) is run on the file, on a pipe with no file
named, and on `-`: the output must be the same, byte for byte (export
and report write files: compared the same way). A truncated pipe and an
empty pipe exit 12; with no file and standard input a terminal (a real
pseudo-terminal), each command exits 2 and says what is missing, with
the pipeline to use. `pyheap snap PID | pyheap chain --type T` itself,
as the design card writes it, must work too.
"""
import os
import pty
import select
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402


def run(args, stdin_bytes=None, stdin_file=None):
    if stdin_file is not None:
        with open(stdin_file, "rb") as f:
            proc = subprocess.run([harness.PYHEAP] + args, stdin=f, capture_output=True, timeout=600)
    else:
        proc = subprocess.run([harness.PYHEAP] + args, input=stdin_bytes or b"", capture_output=True,
                              timeout=600)
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")


def run_on_pty(args):
    """Runs pyheap with a pseudo-terminal as standard input (and output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(harness.PYHEAP, [harness.PYHEAP] + args)
    output = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def outputs(args, a, b, tmp, writes_file=None):
    """The command's result three ways: files named, a pipe, and `-`."""
    results = []
    # with two snapshots, standard input only stands in for a required one
    # (diff's B); suspects and report take a second one as `-` only
    ways = ("file", "pipe", "dash") if b is None or args[0] == "diff" else ("file", "dash", "dash")
    for way in ways:
        out_args = list(args)
        target = None
        if writes_file:
            target = os.path.join(tmp, "%s-%s.%s" % (args[0], way, writes_file))
            out_args += ["-o", target]
        files = [a] if b is None else [a, b]
        if way == "file":
            code, out, err = run(out_args + files)
        elif way == "pipe":
            code, out, err = run(out_args + files[:-1], stdin_file=files[-1])
        else:
            code, out, err = run(out_args + files[:-1] + ["-"], stdin_file=files[-1])
        if target:
            with open(target, "rb") as f:
                out = f.read()
        results.append((code, out, err))
    return results


def main():
    results = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "stdin"))
    found = interpreters.select(results)
    if not found:
        results.skip("snapshots from standard input", "no interpreter to take snapshots of")
        return results.finish()
    label, python = sorted(found, key=lambda f: f[0] != "pyenv-3.12")[0]
    tmp = tempfile.mkdtemp(prefix="pyheap-stdin-")
    fixture = harness.Fixture(python, "growth.py", {"PYHEAP_REQUESTS": "50"})
    try:
        if fixture.oracle is None:
            results.fail("fixture", fixture.error_text())
            return results.finish()
        a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", a, str(fixture.pid)])
        results.check("snapshot A (%s)" % label, code == 0, err)
        if fixture.advance("after") is None:
            results.fail("second checkpoint", fixture.error_text())
            return results.finish()
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", b, str(fixture.pid)])
        results.check("snapshot B (%s)" % label, code == 0, err)

        # the design card's form, a real pipe between two pyheap processes
        snap = subprocess.Popen([harness.PYHEAP, "snap", "-q", str(fixture.pid)], stdout=subprocess.PIPE)
        chain = subprocess.run([harness.PYHEAP, "chain", "--type", "Record"], stdin=snap.stdout,
                               capture_output=True, timeout=600)
        snap.stdout.close()
        snap.wait()
        results.check("pyheap snap PID | pyheap chain --type Record", snap.returncode == 0 and
                      chain.returncode == 0 and b"objects of type Record" in chain.stdout,
                      "snap %s, chain %s: %s" % (snap.returncode, chain.returncode, chain.stderr[-500:]))

        commands = [
            (["chain", "--type", "Record"], None, None),
            (["chain", "--json", "--type", "Record"], None, None),
            (["top", "--limit", "5"], None, None),
            (["top", "--json", "--limit", "5"], None, None),
            (["suspects"], None, None),
            (["suspects", "--json"], None, None),
            (["diff"], "two", None),
            (["diff", "--json"], "two", None),
            (["suspects", "--json"], "two", None),
            (["export", "--format", "heapsnapshot"], None, "heapsnapshot"),
            (["report"], None, "html"),
            (["report"], "two", "html"),
        ]
        for args, two, writes in commands:
            name = "pyheap %s%s" % (" ".join(args), " A B" if two else "")
            (c1, o1, e1), (c2, o2, e2), (c3, o3, e3) = outputs(args, a, b if two else None, tmp, writes)
            # outputs name their inputs (diff's header, the report's
            # summary): the file's path, or "standard input"
            last = b if two else a
            o1, o2, o3 = [o.replace(last.encode(), b"<input>").replace(os.path.basename(last).encode(), b"<input>")
                          .replace(b"standard input", b"<input>").replace(b"<input>\n", b"<input>\n")
                          for o in (o1, o2, o3)]
            same = c1 == c2 == c3 and o1 == o2 == o3 and len(o1) > 0
            results.check(name + ": a pipe and `-` give the file's result, byte for byte but the input's "
                          "name (exit %d)" % c1,
                          same and c1 in (0, 14),
                          "exits %d/%d/%d, sizes %d/%d/%d\n%s\n%s\n%s" % (c1, c2, c3, len(o1), len(o2), len(o3),
                                                                         e1[-300:], e2[-300:], e3[-300:]))

        with open(a, "rb") as f:
            text = f.read()
        for args in (["chain", "--type", "Record"], ["top"], ["suspects"], ["diff", a],
                     ["export", "--format", "heapsnapshot", "-o", os.path.join(tmp, "x.heapsnapshot")],
                     ["report", "-o", os.path.join(tmp, "x.html")]):
            code, _, err = run(args, stdin_bytes=text[: len(text) // 2])
            results.check("pyheap %s on a truncated pipe: exit 12, naming standard input" % args[0],
                          code == 12 and "standard input" in err, "exit %d: %s" % (code, err))
            code, _, err = run(args, stdin_bytes=b"")
            results.check("pyheap %s on an empty pipe: exit 12" % args[0],
                          code == 12 and "empty" in err, "exit %d: %s" % (code, err))
        code, _, err = run(["diff", "-", "-"], stdin_file=a)
        results.check("pyheap diff - -: exit 2 (one snapshot from standard input at most)", code == 2,
                      "exit %d: %s" % (code, err))
        for args in (["chain", "--type", "Record"], ["top"], ["suspects"], ["diff", a],
                     ["export", "--format", "heapsnapshot", "-o", os.path.join(tmp, "y.heapsnapshot")],
                     ["report", "-o", os.path.join(tmp, "y.html")]):
            code, out = run_on_pty(args)
            results.check("pyheap %s on a terminal with no file: exit 2 and the hint" % args[0],
                          code == 2 and "no snapshot: give a file, `-`, or pipe one in: pyheap snap PID |" in out,
                          "exit %d: %s" % (code, out[-500:]))
        results.check("the target finished normally", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
