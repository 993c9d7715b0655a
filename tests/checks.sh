# Shared by the shell tests that drive a user-facing program: a scratch folder, pass/fail
# counting and the error-path check. Source it, then end the script with `finish`.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_fail "description" "message fragment" command...: exit status 1 and the fragment on stderr.
expect_fail() {
  local what=$1 fragment=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$?
  if [ "$status" -ne 1 ]; then bad "$what: exit status $status, expected 1"; return; fi
  if ! grep -qi -- "$fragment" "$tmp/err"; then bad "$what: no '$fragment' in: $(cat "$tmp/err")"; return; fi
  ok
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
