"""Every place the interpreter's DWARF can come from, against real
components, each checked by the exact-count oracle: build-id
(/usr/lib/debug, Debian's python3.X-dbg), .gnu_debuglink (objcopy), a
debuginfod server started here on 127.0.0.1, --debuginfo FILE, layout
files for stripped interpreters (3.8-3.13 and free-threaded ones), a target whose libpython is
only visible in its own mount namespace, and no debug info at all."""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402
from test_cli import target_running, describe  # noqa: E402
from test_free_threaded import is_free_threaded  # noqa: E402

R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "debuginfo"))


def libpython_of(python):
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib")
    found = sorted(glob.glob(os.path.join(lib, "libpython3.*.so.1.0")))
    return found[0] if found else None


def oracle_case(name, python, env=None, extra=(), prefix=(), pyheap_env=None, expect_source=None):
    """Runs the seed fixture, snapshots it with the given options, and
    requires exact counts and the expected debuginfo source."""
    fixture = harness.Fixture(python, "seed_book_leak.py", dict(env or {}, PYHEAP_BOOKS="200"), prefix=prefix)
    try:
        if fixture.oracle is None:
            R.fail(name, "fixture did not start: " + fixture.error_text())
            return None
        full_env = dict(os.environ)
        full_env.pop("DEBUGINFOD_URLS", None)
        full_env.update(pyheap_env or {})
        code, snap, err = harness.snapshot(fixture.pid, extra=extra, env=full_env)
        if code != 0:
            R.fail(name, "pyheap snap exited %d: %s" % (code, err.strip()))
            return None
        got = {t["name"]: t["count"] for t in snap["types"]}
        diffs = [n for n in set(got) | set(fixture.oracle["counts"])
                 if got.get(n, 0) != fixture.oracle["counts"].get(n, 0)]
        source = snap["target"]["debuginfo"]
        R.check("%s: exact counts (%d objects), debug info from %s" % (name, snap["capture"]["objects"], source),
                not diffs and (expect_source is None or source.startswith(expect_source)),
                "%d types differ %s; debuginfo %r (expected %r...)" % (len(diffs), diffs[:5], source, expect_source))
        R.check("%s: target running afterwards and finishes normally" % name,
                target_running(fixture.pid) and fixture.release() == 0, fixture.error_text())
        return snap
    finally:
        fixture.close()


def split_copy(lib, directory, keep_symtab=False, debuglink=True):
    """A stripped copy of lib in directory, its debug info beside it (with a
    .gnu_debuglink pointing there when asked). Returns the debug file."""
    base = os.path.basename(lib)
    debug = os.path.join(directory, base + ".debug")
    subprocess.run(["objcopy", "--only-keep-debug", lib, debug], check=True)
    args = ["objcopy", "--strip-debug" if keep_symtab else "--strip-all"]
    if debuglink:
        args.append("--add-gnu-debuglink=" + debug)
    subprocess.run(args + [lib, os.path.join(directory, base)], check=True)
    return debug


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    found = interpreters.select(R)
    by_label = dict(found)
    tmp = tempfile.mkdtemp(prefix="pyheap-debuginfo-")
    try:
        # 1. build-id: Debian's stripped python3.11 and python3.11-dbg
        for label, python in found:
            if label.startswith("debian-"):
                oracle_case("%s (stripped; python3.X-dbg by build-id)" % label, python, expect_source="build-id:")

        main_label = "pyenv-3.12" if "pyenv-3.12" in by_label else None
        if not main_label or not shutil.which("objcopy"):
            R.skip("debuglink, debuginfod, --debuginfo, namespace", "needs pyenv 3.12 and objcopy")
        else:
            python = by_label[main_label]
            lib = libpython_of(python)
            # 2. .gnu_debuglink, next to a fully stripped copy
            d = os.path.join(tmp, "debuglink")
            os.mkdir(d)
            split_copy(lib, d)
            oracle_case("%s stripped, DWARF through .gnu_debuglink" % main_label, python,
                        env={"LD_LIBRARY_PATH": d}, expect_source=".gnu_debuglink:")

            # 3. --debuginfo FILE for a stripped copy without a link
            d = os.path.join(tmp, "forced")
            os.mkdir(d)
            debug = split_copy(lib, d, debuglink=False)
            moved = os.path.join(tmp, "elsewhere.debug")
            os.rename(debug, moved)
            oracle_case("%s stripped, --debuginfo FILE" % main_label, python, env={"LD_LIBRARY_PATH": d},
                        extra=["--debuginfo", moved], expect_source="--debuginfo")

            # 4. debuginfod: a real server on 127.0.0.1 over a directory of
            # debug files; nothing on disk where pyheap looks by itself
            if shutil.which("debuginfod"):
                serve = os.path.join(tmp, "served")
                os.mkdir(serve)
                shutil.copy(moved, os.path.join(serve, "libpython.debug"))
                port = free_port()
                db = os.path.join(tmp, "debuginfod.sqlite")
                server = subprocess.Popen(["debuginfod", "-p", str(port), "-d", db, "-F", serve],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    build_id = subprocess.run(["readelf", "-n", lib], capture_output=True, text=True).stdout
                    build_id = build_id.split("Build ID: ")[1].split()[0]
                    url = "http://127.0.0.1:%d" % port
                    ready = False
                    for _ in range(300):
                        try:
                            with urllib.request.urlopen("%s/buildid/%s/debuginfo" % (url, build_id), timeout=2) as r:
                                ready = r.status == 200
                        except OSError:
                            ready = False
                        if ready or server.poll() is not None:
                            break
                        time.sleep(0.2)
                    if not ready:
                        R.fail("debuginfod", "the server never offered the debug file")
                    else:
                        oracle_case("%s stripped, DWARF from a debuginfod server on 127.0.0.1" % main_label,
                                    python, env={"LD_LIBRARY_PATH": d},
                                    pyheap_env={"DEBUGINFOD_URLS": url,
                                                "DEBUGINFOD_CACHE_PATH": os.path.join(tmp, "cache")},
                                    expect_source="debuginfod:")
                        cache = os.path.join(tmp, "cache")
                        fetched = [f for _, _, files in os.walk(cache) for f in files if f == "debuginfo"]
                        R.check("the debug file came from the server (it is in pyheap's debuginfod cache)",
                                len(fetched) == 1, "cache holds %r" % fetched)
                finally:
                    server.terminate()
                    try:
                        server.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        server.kill()
                        server.wait()
            else:
                R.skip("debuginfod", "the debuginfod package is not installed")

            # 5. a mount namespace: libpython visible only inside it
            if os.geteuid() == 0 and shutil.which("unshare"):
                hidden = os.path.join(tmp, "only-in-namespace")
                os.mkdir(hidden)
                script = ("mount -t tmpfs tmpfs '%s' && cp '%s' '%s/' && "
                          "LD_LIBRARY_PATH='%s' exec \"$0\" \"$@\"") % (hidden, lib, hidden, hidden)
                snap = oracle_case("%s in its own mount namespace (libpython not visible here)" % main_label,
                                   python, prefix=["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
                if snap:
                    R.check("the namespace's libpython path does not exist outside it",
                            snap["target"]["libpython"].startswith(hidden)
                            and not os.path.exists(snap["target"]["libpython"]), snap["target"]["libpython"])
                R.check("nothing was written into the namespace's directory from outside",
                        os.listdir(hidden) == [], str(os.listdir(hidden)))
            else:
                R.skip("mount namespace", "needs root and unshare")

        # 6. layout files: stripped copies of every pyenv libpython, and of
        # every free-threaded one (its layout adds mimalloc's structs)
        for label, python in found:
            if not label.startswith("pyenv-") and not is_free_threaded(python):
                continue
            lib = libpython_of(python)
            if not lib:
                R.skip("%s layout file" % label, "no shared libpython")
                continue
            d = os.path.join(tmp, "layout-" + label)
            os.mkdir(d)
            layout = os.path.join(d, "layout.json")
            code, _, err = harness.run_pyheap(["layout", "-o", layout, lib])
            if not R.check("%s: pyheap layout exports its layout" % label, code == 0, err):
                continue
            subprocess.run(["objcopy", "--strip-all", lib, os.path.join(d, os.path.basename(lib))], check=True)
            oracle_case("%s stripped (--strip-all), layouts from a layout file" % label, python,
                        env={"LD_LIBRARY_PATH": d}, extra=["--layout", layout], expect_source="layout file")
        layouts_made = all(os.path.exists(os.path.join(tmp, "layout-%s" % l, "layout.json"))
                           for l in ("pyenv-3.11", "pyenv-3.12"))
        if "pyenv-3.11" in by_label and "pyenv-3.12" in by_label and not layouts_made:
            R.fail("layout lookup by build-id", "the 3.11/3.12 layout files were not made (see above)")
        elif "pyenv-3.11" in by_label and "pyenv-3.12" in by_label:
            d = os.path.join(tmp, "layout-dir")
            os.mkdir(d)
            lib = libpython_of(by_label["pyenv-3.11"])
            layout = os.path.join(tmp, "layout-pyenv-3.11", "layout.json")
            build_id = json.load(open(layout))["build_id"]
            shutil.copy(layout, os.path.join(d, build_id + ".json"))
            oracle_case("pyenv-3.11 stripped, layout found by build-id in $PYHEAP_LAYOUT_DIR", by_label["pyenv-3.11"],
                        env={"LD_LIBRARY_PATH": os.path.join(tmp, "layout-pyenv-3.11")},
                        pyheap_env={"PYHEAP_LAYOUT_DIR": d}, expect_source="layout file")
            other = os.path.join(tmp, "layout-pyenv-3.12", "layout.json")
            fixture = harness.Fixture(by_label["pyenv-3.11"], "idle_threads.py",
                                      {"LD_LIBRARY_PATH": os.path.join(tmp, "layout-pyenv-3.11")})
            try:
                code, _, err = harness.run_pyheap(["snap", "--layout", other, str(fixture.pid)])
                R.check("a layout file of another build is refused, naming both build-ids (exit 12)",
                        code == 12 and err.count("build-id") >= 2, "exit %d: %s" % (code, err))
                R.check("the target of the refused snapshot runs on", target_running(fixture.pid), describe(fixture.pid))
                fixture.release()
            finally:
                fixture.close()

        # 7. no debug info anywhere: every place named, the target untouched;
        # 3.13+ names its exact version from _Py_DebugOffsets
        for label in ("pyenv-3.13", "pyenv-3.12"):
            if label not in by_label:
                continue
            lib = libpython_of(by_label[label])
            d = os.path.join(tmp, "nothing-" + label)
            os.mkdir(d)
            subprocess.run(["objcopy", "--strip-all", lib, os.path.join(d, os.path.basename(lib))], check=True)
            fixture = harness.Fixture(by_label[label], "idle_threads.py", {"LD_LIBRARY_PATH": d})
            try:
                env = dict(os.environ)
                env.pop("DEBUGINFOD_URLS", None)
                env.pop("PYHEAP_LAYOUT_DIR", None)
                res = subprocess.run([harness.PYHEAP, "snap", str(fixture.pid)], capture_output=True, text=True, env=env)
                wants = ["build-id", ".gnu_debuglink", "debuginfod", "-dbg", "layout"]
                if label == "pyenv-3.13":
                    wants.append("CPython 3.13.0 (from _Py_DebugOffsets)")
                R.check("%s with no debug info anywhere: exit 6, every place searched named%s" %
                        (label, ", exact version from _Py_DebugOffsets" if label == "pyenv-3.13" else ""),
                        res.returncode == 6 and all(w in res.stderr for w in wants),
                        "exit %d: %s" % (res.returncode, res.stderr))
                R.check("%s: the target runs on" % label, target_running(fixture.pid), describe(fixture.pid))
                fixture.release()
            finally:
                fixture.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
