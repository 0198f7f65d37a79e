# Sourced by the kargo-actions actions before a command runs (bash).
# Masks the secrets first, hands the token to kargo-actions and to git (a credential helper that reads
# GITHUB_TOKEN when the server asks: nothing is written to disk or to .git/config), sets up SSH signing of
# Freight tags from KA_SIGNING_KEY, and passes the non-empty KA_* options as KARGO_ACTIONS_* variables.

if [ -n "${KA_GITHUB_TOKEN:-}" ]; then
  echo "::add-mask::${KA_GITHUB_TOKEN}"
  export GITHUB_TOKEN="${KA_GITHUB_TOKEN}"
fi
if [ -n "${KA_SIGNING_KEY:-}" ]; then
  while IFS= read -r _ka_line; do
    if [ -n "${_ka_line// /}" ]; then echo "::add-mask::${_ka_line}"; fi
  done <<<"${KA_SIGNING_KEY}"
fi
unset KA_GITHUB_TOKEN
if [ -n "${ARGOCD_AUTH_TOKEN:-}" ]; then echo "::add-mask::${ARGOCD_AUTH_TOKEN}"; fi

_ka_config() {
  local n="${GIT_CONFIG_COUNT:-0}"
  export "GIT_CONFIG_KEY_${n}=$1" "GIT_CONFIG_VALUE_${n}=$2"
  export GIT_CONFIG_COUNT=$((n + 1))
}
# shellcheck disable=SC2016 # the helper's $1 and $GITHUB_TOKEN expand when git runs it, not here
_ka_config "credential.${GITHUB_SERVER_URL:-https://github.com}.helper" \
  '!f() { test "$1" = get && test -n "$GITHUB_TOKEN" && printf "username=x-access-token\npassword=%s\n" "$GITHUB_TOKEN"; }; f'
if [ -n "${KA_SIGNING_KEY:-}" ]; then
  _ka_key="$(mktemp "${RUNNER_TEMP:-/tmp}/kargo-signing-key.XXXXXX")"
  chmod 600 "${_ka_key}"
  printf '%s\n' "${KA_SIGNING_KEY}" >"${_ka_key}"
  _ka_config gpg.format ssh
  _ka_config user.signingkey "${_ka_key}"
fi
unset KA_SIGNING_KEY
if [ -n "${KA_ALLOWED_SIGNERS:-}" ]; then
  _ka_config gpg.ssh.allowedSignersFile "$(cd "$(dirname "${KA_ALLOWED_SIGNERS}")" && pwd)/$(basename "${KA_ALLOWED_SIGNERS}")"
fi

for _ka_pair in CONFIG_DIR:CONFIG_DIR REPO:REPO LEDGER_BRANCH:LEDGER_BRANCH LEDGER_REMOTE:LEDGER_REMOTE \
  TAG_PREFIX:TAG_PREFIX SIGN:SIGN; do
  _ka_from="KA_${_ka_pair%%:*}"
  if [ -n "${!_ka_from:-}" ]; then export "KARGO_ACTIONS_${_ka_pair##*:}=${!_ka_from}"; fi
done
unset _ka_pair _ka_from _ka_line
