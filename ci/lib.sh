# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Shared helpers for the ci/ scripts. Source it; do not run it.
# Everything here writes to stderr: stdout is reserved for each script's result.

THEORY_CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
THEORY_REPO_ROOT="$(cd "$THEORY_CI_DIR/.." && pwd)"
THEORY_STATE_DIR="${THEORY_STATE_DIR:-/var/tmp/theory-conform}"
# The registry address is part of the pinned reference (and so of the lock
# file); change it only together with ci/registry/config.yml.
THEORY_REGISTRY_ADDR="${THEORY_REGISTRY_ADDR:-127.0.0.1:5000}"
THEORY_IMAGE_REPOSITORY="${THEORY_IMAGE_REPOSITORY:-theory/reference-processor}"
THEORY_LOCK_FILE="$THEORY_CI_DIR/reference-image.lock"

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# http_status URL -> prints the HTTP status code, or 000 when nothing answers.
http_status() {
    if command -v curl >/dev/null 2>&1; then
        curl -sS -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
    else
        python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
    fi
}

registry_answers() {
    [ "$(http_status "http://$THEORY_REGISTRY_ADDR/v2/")" = "200" ]
}
