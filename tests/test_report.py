"""pyheap report, checked as a file and in a real browser.

As a file: one self-contained page (no src/href to anywhere, a
Content-Security-Policy that forbids requests, mode 0600), its embedded
data well-formed, the seed's exception among the suspects, and the type
table equal to per-type totals computed here from the snapshot's own graph
(every node, tracked or not; for two snapshots, both sides and the change).

In a browser: Debian's chromium, headless, driven by playwright-core
(PYHEAP_NODE_MODULES) with a fresh profile: the page loads with no console
error, no page error and no request beyond its own file; it shows the
seed's suspect and a treemap; clicking a column header re-sorts the type
table (names ascending, counts descending, then ascending) and sets
aria-sort. A screenshot of each page goes to PYHEAP_SCREENSHOT_DIR (the
build directory). Where chromium or the npm packages are missing, the
browser checks are skips that say why.

Also: two snapshots of one process (fixtures/growth.py), a snapshot of
1,000,000 objects (the page must stay small and load), and bad input.

Usage: test_report.py [--only LABEL] [--no-big]
"""
import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

JS = os.path.join(harness.ROOT, "tests", "js")
NODE_MODULES = os.environ.get("PYHEAP_NODE_MODULES", "")
CHROMIUM = os.environ.get("PYHEAP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.environ.get("PYHEAP_SCREENSHOT_DIR", os.path.join(harness.ROOT, "build"))
DATA = re.compile(r'<script type="application/json" id="pyheap-data">(.*?)</script>', re.S)


def browser_missing():
    if os.environ.get("PYHEAP_NPM_PROBLEM"):
        return os.environ["PYHEAP_NPM_PROBLEM"]
    if os.environ.get("PYHEAP_CHROMIUM_PROBLEM"):
        return os.environ["PYHEAP_CHROMIUM_PROBLEM"]
    if not NODE_MODULES or not os.path.isdir(os.path.join(NODE_MODULES, "playwright-core")):
        return "playwright-core is not installed (PYHEAP_NODE_MODULES: %r; scripts/test installs it)" % NODE_MODULES
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is not installed (apt-get install chromium)" % CHROMIUM
    if not shutil.which("node"):
        return "node is not installed"
    return None


def type_totals(snapshot):
    g = snapshot["graph"]
    nf = len(g["node_fields"])
    nodes, strings = g["nodes"], g["strings"]
    pseudo = 1 << g["node_flags"].index("pseudo")
    tracked = 1 << g["node_flags"].index("tracked")
    totals = {}
    for i in range(0, len(nodes), nf):
        if nodes[i + 3] & pseudo:
            continue
        row = totals.setdefault(strings[nodes[i + 1]], [0, 0, 0])
        row[0] += 1
        row[1] += nodes[i + 2]
        row[2] += bool(nodes[i + 3] & tracked)
    return totals


def read_page(R, name, path):
    """Checks the file as a file; returns its embedded data or None."""
    with open(path, encoding="utf-8") as f:
        page = f.read()
    mode = stat.S_IMODE(os.stat(path).st_mode)
    R.check(name + ": written mode 0600", mode == 0o600, "mode %o" % mode)
    external = re.findall(r'(?:src|href)\s*=\s*["\']?(?!#)[^"\'\s>]+', page) + re.findall(r'url\(\s*["\']?(?!data:)', page) \
        + re.findall(r'@import', page)
    R.check(name + ": self-contained: no src, href, url() or @import", not external, "found %s" % external[:5])
    R.check(name + ": its Content-Security-Policy forbids requests (default-src 'none')",
            "default-src 'none'" in page, "")
    m = DATA.search(page)
    if not R.check(name + ": embedded data present", m is not None, ""):
        return None
    try:
        data = json.loads(m.group(1))
    except ValueError as e:
        R.fail(name + ": embedded data is JSON", str(e))
        return None
    R.check(name + ": no '<' inside the data (it could close the script element)", "<" not in m.group(1), "")
    return data


def check_types(R, name, data, snapshots):
    rows = data["types"]["rows"]
    if len(snapshots) == 1:
        want = {t: v[:3] for t, v in type_totals(snapshots[0]).items()}
        got = {r[0]: [r[1], r[2], r[3]] for r in rows}
        R.check(name + ": the type table is every node's type: objects, bytes, GC-tracked (%d types)" % len(want),
                got == want, "differs for %s" % sorted(t for t in set(want) | set(got) if want.get(t) != got.get(t))[:5])
        R.check(name + ": the type table's bytes add up to the Python heap",
                sum(r[2] for r in rows) == data["snapshots"][0]["summary"]["heap"]["bytes"], "")
    else:
        a, b = type_totals(snapshots[0]), type_totals(snapshots[1])
        want = {}
        for t in set(a) | set(b):
            x, y = a.get(t, [0, 0, 0]), b.get(t, [0, 0, 0])
            want[t] = [x[0], y[0], y[0] - x[0], x[1], y[1], y[1] - x[1]]
        got = {r[0]: r[1:] for r in rows}
        R.check(name + ": the diff table is both graphs' per-type totals and their change (%d types)" % len(want),
                got == want, "differs for %s" % sorted(t for t in set(want) | set(got) if want.get(t) != got.get(t))[:5])


def run_browser(R, name, path, expect_text, screenshot_name):
    profile = tempfile.mkdtemp(prefix="pyheap-chromium-")
    screenshot = os.path.join(SCREENSHOTS, screenshot_name)
    try:
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        proc = subprocess.run(["node", os.path.join(JS, "report_browser.js"), CHROMIUM, path, screenshot, profile],
                              capture_output=True, timeout=600, env=env)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    if not R.check(name + ": chromium (headless, playwright-core) loads the page", proc.returncode == 0 and lines,
                   "exit %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace")[-3000:])):
        return None
    result = json.loads(lines[-1])
    R.check(name + ": no console errors or warnings", not result["console_errors"], "\n".join(result["console_errors"][:5]))
    R.check(name + ": no page errors", not result["page_errors"], "\n".join(result["page_errors"][:5]))
    R.check(name + ": no request beyond the file itself", not result["requests"], "\n".join(result["requests"][:5]))
    if expect_text:
        R.check(name + ": the page shows the suspect (%s)" % expect_text, expect_text in result["suspects"],
                "suspects section: %r" % result["suspects"][:800])
    R.check(name + ": the treemap has tiles (%d) and the holders list rows (%d)" % (result["tiles"], result["top_rows"]),
            result["tiles"] > 0 and result["top_rows"] > 0, "")
    initial, by_name = result["initial"], result["by_name"]
    R.check(name + ": clicking the type header sorts the table by name (aria-sort ascending)",
            by_name["sorted"] and by_name["names"] != initial["names"] and by_name["sort"][0] == "ascending"
            and len(by_name["names"]) == result["row_count"],
            "sorted %s, first names %s, aria-sort %s" % (by_name["sorted"], by_name["names"][:4], by_name["sort"]))
    down, up = result["by_count_descending"], result["by_count_ascending"]
    R.check(name + ": clicking '%s' sorts by it, largest first; clicking again, smallest first" % result["headers"][1],
            down["values"] == sorted(down["values"], reverse=True) and up["values"] == sorted(up["values"])
            and down["sort"][1] == "descending" and up["sort"][1] == "ascending" and down["sort"][0] is None,
            "descending %s, ascending %s, aria-sort %s / %s" % (down["values"][:5], up["values"][:5], down["sort"], up["sort"]))
    R.check(name + ": screenshot saved (%s)" % screenshot, os.path.getsize(screenshot) > 10000 if os.path.exists(screenshot)
            else False, "")
    return result


def snap(fixture, path):
    code, out, err = harness.run_pyheap(["snap", "-q", "-o", path, str(fixture.pid)])
    return code == 0, "exit %d: %s" % (code, err)


def run_seed(R, label, python, browser_reason, tmp):
    name = label + "/seed report"
    fixture = harness.Fixture(python, "seed_book_leak.py")
    snapshot = os.path.join(tmp, "seed.json")
    try:
        if fixture.oracle is None:
            R.fail(name, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return None
        ok, why = snap(fixture, snapshot)
        fixture.release()
        if not R.check(name + ": snapshot", ok, why):
            return None
    finally:
        fixture.close()
    page = os.path.join(tmp, "seed.html")
    code, out, err = harness.run_pyheap(["report", snapshot, "-o", page])
    if not R.check(name + ": report exits 0 and says where", code == 0 and "report written to" in err, "exit %d: %s" % (code, err)):
        return snapshot
    data = read_page(R, name, page)
    if data:
        with open(snapshot) as f:
            check_types(R, name, data, [json.load(f)])
        holders = [s.get("holder", "") for s in data["suspects"]["suspects"]]
        R.check(name + ": the seed's exception is a suspect, named by its holder",
                any("ParseBookException" in h for h in holders), "holders: %s" % holders)
        R.check(name + ": the top holders are embedded (at most --limit)", 0 < len(data["top"]["items"]) <= 50, "")
    if browser_reason:
        R.skip(name + ": in a browser", browser_reason)
    else:
        run_browser(R, name, page, "ParseBookException", "report-seed.png")
    return snapshot


def run_growth(R, label, python, browser_reason, tmp):
    name = label + "/growth report (two snapshots)"
    fixture = harness.Fixture(python, "growth.py", {"PYHEAP_REQUESTS": "3000"})
    a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
    try:
        if fixture.oracle is None:
            R.fail(name, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        ok, why = snap(fixture, a)
        if not R.check(name + ": snapshot A", ok, why):
            return
        if not R.check(name + ": the fixture grows", fixture.advance("after") is not None, fixture.error_text()):
            return
        ok, why = snap(fixture, b)
        fixture.release()
        if not R.check(name + ": snapshot B", ok, why):
            return
    finally:
        fixture.close()
    page = os.path.join(tmp, "growth.html")
    code, out, err = harness.run_pyheap(["report", a, b, "-o", page])
    if not R.check(name + ": report exits 0", code == 0, "exit %d: %s" % (code, err)):
        return
    data = read_page(R, name, page)
    if data:
        with open(a) as f:
            sa = json.load(f)
        with open(b) as f:
            sb = json.load(f)
        check_types(R, name, data, [sa, sb])
        growth = data.get("growth") or {}
        R.check(name + ": the growth section names what grew (a suspect holder retaining more in B)",
                any(s["retained_delta"] > 0 for s in growth.get("suspects", [])),
                "growth: %s" % json.dumps(growth)[:800])
    code, out, err = harness.run_pyheap(["report", a, a, "-o", page])
    R.check(name + ": the same file twice exits 2", code == 2, "exit %d: %s" % (code, err))
    if browser_reason:
        R.skip(name + ": in a browser", browser_reason)
    elif data:
        culprit = next((s["holder"] for s in growth.get("suspects", [])), None)
        result = run_browser(R, name, page, None, "report-growth.png")
        if result and culprit:
            R.check(name + ": the page shows the growing holder", culprit in result["suspects"],
                    "%r not in %r" % (culprit, result["suspects"][:600]))


def run_big(R, label, python, browser_reason, tmp):
    name = label + "/report of 1,000,000 objects"
    fixture = harness.Fixture(python, "big_heap.py", {"PYHEAP_OBJECTS": "1000000"})
    snapshot = os.path.join(tmp, "big.json")
    try:
        if fixture.oracle is None:
            R.fail(name, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        ok, why = snap(fixture, snapshot)
        fixture.release()
        if not R.check(name + ": snapshot", ok, why):
            return
    finally:
        fixture.close()
    page = os.path.join(tmp, "big.html")
    code, out, err = harness.run_pyheap(["report", "-q", snapshot, "-o", page])
    if not R.check(name + ": report exits 0", code == 0, "exit %d: %s" % (code, err)):
        return
    size = os.path.getsize(page)
    R.check(name + ": the page embeds aggregates, not the graph: %d KiB for a %d MiB snapshot" %
            (size // 1024, os.path.getsize(snapshot) >> 20), size < 1024 * 1024, "")
    os.unlink(snapshot)
    if browser_reason:
        R.skip(name + ": in a browser", browser_reason)
    else:
        run_browser(R, name, page, None, "report-1m.png")


def check_cli(R, tmp, snapshot):
    page = os.path.join(tmp, "cli.html")
    code, out, err = harness.run_pyheap(["report", snapshot])
    R.check("report without -o exits 2", code == 2, "exit %d: %s" % (code, err))
    code, out, err = harness.run_pyheap(["report", "-o", page, os.path.join(tmp, "missing.json")])
    R.check("report of a missing file exits 12", code == 12, "exit %d: %s" % (code, err))
    with open(snapshot) as f:
        doc = json.load(f)
    doc.pop("graph", None)
    doc.pop("exceptions", None)
    nograph = os.path.join(tmp, "nograph.json")
    with open(nograph, "w") as f:
        json.dump(doc, f)
    code, out, err = harness.run_pyheap(["report", "-o", page, nograph])
    R.check("report of a --no-graph snapshot exits 12 naming --no-graph", code == 12 and "--no-graph" in err,
            "exit %d: %s" % (code, err))
    code, out, err = harness.run_pyheap(["report", "-o", os.path.join(tmp, "no-such-dir", "r.html"), snapshot])
    R.check("report to an unwritable path exits 11", code == 11, "exit %d: %s" % (code, err))
    code, out, err = harness.run_pyheap(["report", "--limit", "0", "-o", page, snapshot])
    R.check("report --limit 0 exits 2", code == 2, "exit %d: %s" % (code, err))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run on this interpreter label (default: the newest found)")
    parser.add_argument("--no-big", action="store_true", help="skip the 1,000,000-object report")
    args = parser.parse_args()
    R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "report"))
    browser_reason = browser_missing()
    # the report reads snapshots; one interpreter is enough (the graph
    # itself is checked on every interpreter by the graph suite)
    found = [(l, p) for l, p in interpreters.find()[0]
             if l not in interpreters.excluded() and (not args.only or l == args.only)]
    if not found:
        R.skip("report", "no CPython with debug info found" + (" labelled " + args.only if args.only else ""))
        return R.finish()
    preferred = [f for f in found if f[0] == "pyenv-3.12"]
    label, python = (preferred or found)[-1]
    os.makedirs(SCREENSHOTS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="pyheap-report-")
    try:
        seed = run_seed(R, label, python, browser_reason, tmp)
        run_growth(R, label, python, browser_reason, tmp)
        if seed:
            check_cli(R, tmp, seed)
        if args.no_big:
            R.skip("report of 1,000,000 objects", "--no-big")
        else:
            run_big(R, label, python, browser_reason, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
