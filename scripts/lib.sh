# Shared by the project's scripts (sourced, not run): messages, and
# installing Debian packages as root or through sudo. A script sets
# missing_hint to say what to do where apt-get is not there.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run: $* (install it yourself, or run as root)"
	fi
}

apt_updated=
apt_update() {
	if [ -z "$apt_updated" ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
		apt_updated=1
	fi
}

apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "$* missing and this is not a Debian-like system: ${missing_hint:-install it yourself}"
	log "installing Debian packages: $*"
	apt_update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
