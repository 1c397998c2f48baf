# Shared by scripts/demo, scripts/test and scripts/bench: install what is
# missing (apt-get as root, or print the exact command), then build.

PYHEAP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYHEAP_BUILD="${PYHEAP_BUILD:-$PYHEAP_ROOT/build}"

# Debian packages: to build (libzstd-dev: zstd cores read directly), to run
# the tests (gdb: gcore makes the cores of the core suite; zstd compresses
# one), and the debug info of the system python3.11 (a stripped binary) so
# it can be tested too.
PYHEAP_BUILD_PACKAGES="gcc libc6-dev pkg-config meson ninja-build libelf-dev libdw-dev libcjson-dev libzstd-dev"
PYHEAP_TEST_PACKAGES="python3 binutils elfutils util-linux procps python3.11-dbg debuginfod libdebuginfod1 gdb zstd"
# the real programs of tests/test_real_programs.py (Tornado's demos are in its -doc package)
PYHEAP_REAL_PROGRAM_PACKAGES="python3-flask python3-tornado python-tornado-doc python3-aiohttp python3-sphinx"

ph_missing_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$pkg")
	done
	echo "${missing[*]}"
}

ph_install() {
	local missing
	missing="$(ph_missing_packages "$@")"
	[ -z "$missing" ] && return 0
	if ! command -v apt-get >/dev/null; then
		echo "pyheap: needs these Debian packages, and this system has no apt-get: $missing" >&2
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "pyheap: missing packages; run as root, or first:" >&2
		echo "  sudo apt-get install -y $missing" >&2
		return 1
	fi
	echo "pyheap: installing $missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq $missing >/dev/null 2>&1; then
		apt-get update -qq >/dev/null 2>&1 || true
		# python3.X-dbg only exists where python3.X does; the rest must install.
		apt-get install -y -qq $missing >/dev/null || {
			echo "pyheap: apt-get install $missing failed" >&2
			return 1
		}
	fi
}

# ph_build [DIR [MESON OPTIONS...]]: configures DIR (default $PYHEAP_BUILD)
# with the options (applied to an existing directory too) and builds it.
# The compiler is $CC's, fixed when DIR is first set up.
ph_build() {
	local dir="${1:-$PYHEAP_BUILD}"
	[ $# -gt 0 ] && shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$PYHEAP_ROOT" "$@" >/dev/null || return 1
	elif [ $# -gt 0 ]; then
		meson configure "$dir" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

# ph_npm_install DIR: the JavaScript packages of tests/js/package.json in
# DIR/node_modules (a cache inside the build directory, never committed;
# reinstalled when package.json changes). PUPPETEER_SKIP_DOWNLOAD: memlab
# depends on puppeteer, which would otherwise download a browser. Prints
# why on failure (no npm, no registry) and returns 1.
ph_npm_install() {
	local dir="$1"
	if ! command -v npm >/dev/null; then
		echo "npm is not installed (apt-get install npm)"
		return 1
	fi
	mkdir -p "$dir" || return 1
	if [ -d "$dir/node_modules" ] && cmp -s "$PYHEAP_ROOT/tests/js/package.json" "$dir/package.json"; then
		return 0
	fi
	cp "$PYHEAP_ROOT/tests/js/package.json" "$dir/package.json" || return 1
	if ! (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error \
		>"$dir/npm-install.log" 2>&1); then
		echo "npm install failed (registry unreachable?): $(tail -3 "$dir/npm-install.log" | tr '\n' ' ')"
		rm -f "$dir/package.json"
		return 1
	fi
}
