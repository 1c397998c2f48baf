"""Finds every CPython the tests should run against.

pyenv's 3.8-3.13, Debian's /usr/bin/python3.X (stripped; DWARF from
python3.X-dbg), and any self-built /opt/cpython-*/bin/python3.*. A
missing interpreter is reported so the suite can count it as a skip.
"""
import glob
import os
import re
import subprocess

PYENV_MINORS = range(8, 14)


def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if root and os.path.isdir(root):
        return root
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and os.path.isdir(out.stdout.strip()):
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    home = os.path.expanduser("~/.pyenv")
    return home if os.path.isdir(home) else None


def _version_key(path):
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", path)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def build_id(path):
    try:
        out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Build ID: ([0-9a-f]+)", out.stdout)
    return m.group(1) if m else None


def find():
    """Returns (found, missing): found is a list of (label, path),
    missing a list of (label, reason)."""
    found, missing = [], []
    root = pyenv_root()
    for minor in PYENV_MINORS:
        label = "pyenv-3.%d" % minor
        paths = []
        if root:
            paths = glob.glob(os.path.join(root, "versions", "3.%d.*" % minor, "bin", "python3.%d" % minor))
            paths = [p for p in paths if re.search(r"/3\.%d\.\d+/" % minor, p)]
        if paths:
            found.append((label, sorted(paths, key=_version_key)[-1]))
        else:
            missing.append((label, "no pyenv CPython 3.%d installed" % minor))
    for path in sorted(glob.glob("/usr/bin/python3.[0-9]*")):
        if not re.fullmatch(r"/usr/bin/python3\.\d+", path):
            continue
        minor = path.rsplit(".", 1)[1]
        label = "debian-3.%s" % minor
        bid = build_id(os.path.realpath(path))
        debug = bid and os.path.exists("/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2], bid[2:]))
        if debug:
            found.append((label, path))
        else:
            missing.append((label, "%s has no debug info (apt-get install python3.%s-dbg)" % (path, minor)))
    for path in sorted(glob.glob("/opt/cpython-*/bin/python3.*")):
        if re.fullmatch(r".*/python3\.\d+", path):
            found.append(("opt-" + path.split("/")[2][len("cpython-"):], path))
    return found, missing


def excluded():
    """Labels listed in PYHEAP_TEST_EXCLUDE (comma-separated): interpreters
    a developer leaves out of a run, e.g. a build whose support is still
    being written on another branch. Each is reported as a skip."""
    return [x for x in os.environ.get("PYHEAP_TEST_EXCLUDE", "").split(",") if x]


def select(results, only=None):
    """The interpreters found (only those labelled in `only`, a label or a
    comma-separated list, if given); each missing one that was asked for
    (or any, without `only`) is recorded in results as a skip, never as a
    pass; so is each one in PYHEAP_TEST_EXCLUDE."""
    wanted = set(only.split(",")) if only else None
    found, missing = find()
    leave_out = excluded()
    for label, path in found:
        if label in leave_out and (not wanted or label in wanted):
            missing.append((label, "excluded by PYHEAP_TEST_EXCLUDE"))
    found = [(label, path) for label, path in found if label not in leave_out]
    known = {label for label, _ in found} | {label for label, _ in missing}
    for label in sorted((wanted or set()) - known):
        missing.append((label, "not found on this machine"))
    for label, reason in missing:
        if not wanted or label in wanted:
            results.skip(label, reason)
    return [(label, path) for label, path in found if not wanted or label in wanted]


if __name__ == "__main__":
    f, m = find()
    for label, path in f:
        print("found  ", label, path)
    for label, reason in m:
        print("missing", label, reason)
