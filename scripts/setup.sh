#!/usr/bin/env bash
# Install what civicgrid needs and is missing — and nothing else — on Debian 12.
#   scripts/setup.sh run    Debian packages, the Python 3.12 venv with the project, npm assets
#   scripts/setup.sh test   the same plus test-only packages (chromium, the test extra)
#   scripts/setup.sh bench  the same plus the compared peers (tipg, stock pygeoapi, scikit-learn) and wrk
# Idempotent: a second call finds everything in place and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"
say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ Debian packages
apt_packages=(postgresql-15 postgresql-15-postgis-3 postgresql-contrib gdal-bin fonts-wqy-microhei pgbackrest)
command -v node >/dev/null && command -v npm >/dev/null || apt_packages+=(nodejs npm)
# python3-qgis: tests/test_feeds.py runs desktop QGIS 3.22 (headless) against the OGC API
if [ "$mode" = test ]; then apt_packages+=(chromium poppler-utils python3-qgis); fi
if [ "$mode" = bench ]; then apt_packages+=(wrk); fi

missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        die "missing Debian packages; run as root: apt-get update && apt-get install -y ${missing[*]}"
    fi
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ------------------------------------------------------------------ Python 3.12 venv
find_python() {
    local candidate
    for candidate in python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
    python=$(find_python) || die "Python 3.12 not found: install it (e.g. 'pyenv install 3.12') and run make again"
    say "creating .venv with $python"
    rm -rf .venv
    "$python" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi

# A stamp per pyproject.toml version and mode; a bigger mode's install covers the smaller ones.
hash=$(sha256sum pyproject.toml | cut -c1-16)
case "$mode" in
    run) extras="" covering="run test bench" ;;
    test) extras="[test]" covering="test bench" ;;
    bench) extras="[test,bench]" covering="bench" ;;
    *) die "unknown mode '$mode' (run, test or bench)" ;;
esac
installed=no
for m in $covering; do [ -f ".venv/.installed-${hash}-${m}" ] && installed=yes; done
if [ "$installed" = no ]; then
    say "installing the project into .venv ${extras}"
    .venv/bin/python -m pip install -q -e ".${extras}"
    find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-${hash}-*" -delete
    touch ".venv/.installed-${hash}-${mode}"
fi

# ------------------------------------------------------------------ npm assets
if [ -f web/package.json ]; then
    lock_hash=$(cat web/package.json web/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
    npm_stamp="web/node_modules/.civicgrid-${lock_hash}"
    # the build is redone when the lock or any source of the app is newer than it
    built=web/dist/index.html
    if [ ! -f "$npm_stamp" ]; then
        say "installing npm packages (web/)"
        (cd web && npm ci --no-audit --no-fund --loglevel=error)
        touch "$npm_stamp"
    fi
    if [ ! -f "$built" ] || [ "$npm_stamp" -nt "$built" ] \
        || [ -n "$(find web/src web/index.html web/vite.config.js -newer "$built" -print -quit)" ]; then
        say "building the web app (web/dist)"
        (cd web && npm run --silent build >/dev/null)
    fi
fi
