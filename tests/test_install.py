"""`meson install` as a packager runs it: into a DESTDIR, from a build
directory (default: build-release next to build/, else build/). The
installed pyheap must run and snapshot a real target, `man pyheap` must
render without warnings, and the manual page and the bash completion must
name every command, long option and exit code the program's --help texts
name (so a new option without documentation fails here).

Usage: test_install.py [BUILD_DIR]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "install"))


def run(args, env=None, timeout=600, stdin=None):
    proc = subprocess.run(args, capture_output=True, timeout=timeout, env=env, stdin=stdin)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def find_installed(destdir, relative_dir, name):
    for dirpath, _, filenames in os.walk(destdir):
        if dirpath.endswith(relative_dir) and name in filenames:
            return os.path.join(dirpath, name)
    return None


def commands_from_help(help_text):
    """The command names listed under "Commands:" in pyheap --help."""
    commands = []
    in_commands = False
    for line in help_text.splitlines():
        if line.startswith("Commands:"):
            in_commands = True
            continue
        if in_commands:
            m = re.match(r"  (\w+)\b", line)
            if m:
                commands.append(m.group(1))
            elif not line.strip():
                break
    return commands


def long_options(help_text):
    """The options a --help text defines (its option lines), not ones its
    prose mentions."""
    return sorted(set(re.findall(r"^\s+(?:-\w,\s+)?(--[a-z][a-z-]*[a-z])", help_text, re.M)))


def exit_codes(help_text):
    part = help_text.split("Exit codes:", 1)[-1]
    return sorted({int(c) for c in re.findall(r"^\s{1,3}(\d+)\s", part, re.M)})


def man_option_present(man_text, option):
    # in the roff source a dash is written \- (or -)
    escaped = option.replace("-", "\\-")
    return escaped in man_text or option in man_text


def check_completion(script, pyheap_dir, commands, options_by_command):
    """Runs the completion function the way bash would, for a command
    prefix and for each command's options."""
    def complete(words):
        line = " ".join(words)
        program = (
            'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
            'COMP_LINE="%s"; COMP_POINT=${#COMP_LINE}; _pyheap; printf "%%s\\n" "${COMPREPLY[@]}"' % line
        )
        code, out, err = run(["bash", "-c", program, "bash", script] + words)
        return code, out.split(), err

    code, out, err = complete(["pyheap", ""])
    missing = [c for c in commands if c not in out]
    R.check("completion offers every command", code == 0 and not missing,
            "missing %s (exit %d, %s)" % (missing, code, err.strip()))
    code, out, err = complete(["pyheap", "ex"])
    R.check("completion completes a command prefix", out == ["export"], "got %s %s" % (out, err))
    for command, options in options_by_command.items():
        code, out, err = complete(["pyheap", command, "--"])
        missing = [o for o in options if o not in out]
        R.check("completion offers every option of %s" % command, code == 0 and not missing,
                "missing %s (got %s; %s)" % (missing, out, err.strip()))
    code, out, err = complete(["pyheap", "export", "--format", ""])
    R.check("completion offers export formats", out == ["heapsnapshot"], "got %s" % out)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    if not build:
        root_build = os.path.join(harness.ROOT, "build")
        build = root_build + "-release" if os.path.isdir(root_build + "-release") else root_build
    if not os.path.isfile(os.path.join(build, "build.ninja")):
        R.fail("meson install", "%s is not a configured meson build directory" % build)
        return R.finish()
    if not shutil.which("meson"):
        R.skip("meson install", "meson is not installed")
        return R.finish()

    destdir = tempfile.mkdtemp(prefix="pyheap-destdir-")
    try:
        code, out, err = run(["meson", "install", "-C", build, "--destdir", destdir, "--quiet"])
        if not R.check("meson install --destdir", code == 0, "exit %d\n%s%s" % (code, out, err[-2000:])):
            return R.finish()
        pyheap = find_installed(destdir, "/bin", "pyheap")
        manpage = find_installed(destdir, "/share/man/man1", "pyheap.1")
        completion = find_installed(destdir, "/share/bash-completion/completions", "pyheap")
        R.check("pyheap installed into bin/", pyheap and os.access(pyheap, os.X_OK), "not found under %s" % destdir)
        R.check("pyheap(1) installed into share/man/man1/", manpage is not None, "not found under %s" % destdir)
        R.check("bash completion installed into share/bash-completion/completions/", completion is not None,
                "not found under %s" % destdir)
        if not pyheap:
            return R.finish()

        code, version, err = run([pyheap, "--version"])
        R.check("installed pyheap --version", code == 0 and version.startswith("pyheap "), "exit %d: %s%s" % (code, version, err))
        code, main_help, err = run([pyheap, "--help"])
        commands = commands_from_help(main_help)
        R.check("installed pyheap --help lists commands", code == 0 and "snap" in commands,
                "exit %d, commands %s" % (code, commands))
        help_texts = {}
        for command in commands:
            code, text, err = run([pyheap, command, "--help"])
            if R.check("installed pyheap %s --help" % command, code == 0 and "usage:" in text,
                       "exit %d: %s" % (code, err)):
                help_texts[command] = text

        # a working pyheap: snapshot a real target and match its oracle
        found = [(label, path) for label, path in interpreters.find()[0] if label not in interpreters.excluded()]
        if not found:
            R.skip("installed pyheap snaps a target", "no CPython with debug info found")
        else:
            label, python = found[-1]
            fixture = harness.Fixture(python, "seed_book_leak.py")
            try:
                if fixture.oracle is None:
                    R.fail("installed pyheap snaps %s" % label, "fixture never reached its checkpoint:\n" + fixture.error_text())
                else:
                    code, out, err = run([pyheap, "snap", "-q", str(fixture.pid)])
                    books = None
                    if code == 0:
                        import json
                        rows = json.loads(out)["types"]
                        books = {r["name"]: r["count"] for r in rows}.get("__main__.Book")
                    R.check("installed pyheap snaps %s (Book count against the oracle)" % label,
                            code == 0 and books == fixture.oracle["counts"].get("__main__.Book"),
                            "exit %d, Book %s, oracle %s: %s" % (code, books, fixture.oracle["counts"].get("__main__.Book"), err[-1000:]))
                fixture.release()
            finally:
                fixture.close()

        if manpage:
            with open(manpage) as f:
                man_source = f.read()
            R.check("man page has the version filled in", "@VERSION@" not in man_source and version.split()[-1] in man_source,
                    "no %r in the installed page" % version.strip())
            if shutil.which("man"):
                env = dict(os.environ, MANPATH=os.path.dirname(os.path.dirname(manpage)), MANWIDTH="100", LC_ALL="C.UTF-8")
                env.pop("MAN_KEEP_FORMATTING", None)
                code, rendered, err = run(["man", "--warnings", "pyheap"], env=env, stdin=subprocess.DEVNULL)
                R.check("man pyheap renders without warnings", code == 0 and "EXIT STATUS" in rendered and not err.strip(),
                        "exit %d: %s" % (code, err[-2000:]))
            else:
                R.skip("man pyheap renders", "man is not installed (apt-get install man-db)")
            missing = [c for c in commands if not re.search(r"^\.SS \"pyheap %s\b" % c, man_source, re.M)]
            R.check("man page has a section for every command", not missing, "missing: %s" % missing)
            for command, text in help_texts.items():
                section = man_source.split('.SS "pyheap %s' % command, 1)[-1].split("\n.SS ", 1)[0]
                missing = [o for o in long_options(text) if not man_option_present(section, o)]
                R.check("man page documents every option of %s" % command, not missing, "missing: %s" % missing)
            codes = exit_codes(main_help)
            status = man_source.split(".SH EXIT STATUS", 1)[-1].split("\n.SH ", 1)[0]
            missing = [c for c in codes if not re.search(r"^\.B %d$" % c, status, re.M)]
            R.check("man page lists every exit code (%d)" % len(codes), codes and not missing, "missing: %s" % missing)

        if completion:
            check_completion(completion, os.path.dirname(pyheap), commands,
                             {c: long_options(t) for c, t in help_texts.items()})
    finally:
        shutil.rmtree(destdir, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
