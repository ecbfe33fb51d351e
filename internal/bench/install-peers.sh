#!/usr/bin/env bash
# Installs the peers that `go run ./internal/bench SUITE` compares Kiln
# against, when they are missing. Safe to run again: it installs nothing that
# is already there.
#
#   bash internal/bench/install-peers.sh
#
# Debian packages go in with apt-get (as root, or through sudo). npm packages
# go into a cache folder outside the repository:
#   $KILN_BENCH_CACHE/npm (default $HOME/.cache/kiln-bench/npm)
# which is where the harness looks for them.
set -euo pipefail

cache="${KILN_BENCH_CACHE:-$HOME/.cache/kiln-bench}"
npm_dir="$cache/npm"

# npm packages, pinned so that figures from different days compare.
npm_packages=(
  "@duckdb/node-api@1.5.6-r.1"
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  echo "install-peers: apt-get install $*"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# need_command COMMAND DEBIAN_PACKAGE: installs the package when the command
# is not on PATH.
need_command() {
  if ! command -v "$1" >/dev/null 2>&1; then
    apt_install "$2"
  fi
}

need_command node nodejs
need_command npm npm
need_command b3sum b3sum
need_command restic restic

# need_python MODULE DEBIAN_PACKAGE: installs the package when Debian's
# python3 (/usr/bin/python3, the one the Python peers run with) cannot
# import the module.
need_python() {
  if ! /usr/bin/python3 -c "import $1" >/dev/null 2>&1; then
    apt_install "$2"
  fi
}
need_python sklearn python3-sklearn # transforms, logistic
need_python torch python3-torch     # mlp (PyTorch 1.13, CPU)
need_python scipy python3-scipy     # drift (SciPy 1.10)

# npm_installed NAME@VERSION: true when that exact version is in $npm_dir.
npm_installed() {
  local spec="$1" name version pkg
  name="${spec%@*}"
  version="${spec##*@}"
  pkg="$npm_dir/node_modules/$name/package.json"
  [ -f "$pkg" ] || return 1
  [ "$(node -p "require(process.argv[1]).version" "$pkg")" = "$version" ]
}

mkdir -p "$npm_dir"
if [ ! -f "$npm_dir/package.json" ]; then
  echo '{"private": true, "description": "peers for Kiln benchmarks (internal/bench)"}' >"$npm_dir/package.json"
fi
missing=()
for spec in "${npm_packages[@]}"; do
  if ! npm_installed "$spec"; then
    missing+=("$spec")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-peers: npm install ${missing[*]} into $npm_dir"
  (cd "$npm_dir" && npm install --no-audit --no-fund --save-exact "${missing[@]}")
fi

# Check that the peers load.
(cd "$npm_dir" && node -e "require('@duckdb/node-api')")
echo "install-peers: ready: node $(node --version), ${npm_packages[*]} in $npm_dir"
