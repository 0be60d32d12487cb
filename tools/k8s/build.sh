#!/usr/bin/env bash
# Builds the pinned Kubernetes binaries used by the `local` control-plane
# provider (kube-apiserver, kube-controller-manager, etcd, kwok), and the
# matching kubectl the end-to-end tests run as a person would, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/hks/k8s-bins/<key>/
# where <key> names the versions pinned in go.mod, e.g.
#   k8s-v1.35.4_etcd-v3.6.16_kwok-v0.8.0
# The binaries are linked into a temporary directory next to it and renamed
# into place at the end, so an interrupted build leaves nothing half-made.
# When the directory already holds them all it exits at once; when it
# holds all but kubectl (a cache from before kubectl was added), only
# kubectl is built.
# The last line printed is the directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

GO="${GO:-go}"
bins=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)

# Versions come from go.mod (plain text parse: no go invocation needed for
# the warm, no-op path).
modver() { # modver <go.mod> <module>
	awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"
}
k8s_version="$(modver go.mod k8s.io/kubernetes)"
etcd_version="$(modver go.mod go.etcd.io/etcd/server/v3)"
kwok_version="$(modver kwok/go.mod sigs.k8s.io/kwok)"
for v in "$k8s_version" "$etcd_version" "$kwok_version"; do
	[[ -n "$v" ]] || { echo "build.sh: cannot read pinned versions from $here/go.mod and $here/kwok/go.mod" >&2; exit 1; }
done

key="k8s-${k8s_version}_etcd-${etcd_version}_kwok-${kwok_version}"
root="${XDG_CACHE_HOME:-$HOME/.cache}/hks/k8s-bins"
dest="$root/$key"

complete() {
	local b
	for b in "${bins[@]}"; do
		[[ -x "$1/$b" ]] || return 1
	done
}

if complete "$dest" && [[ -x "$dest/kubectl" ]]; then
	echo "$dest"
	exit 0
fi

mkdir -p "$root"
# Leftovers of builds killed with SIGKILL (older than 2 h: not a live build).
find "$root" -maxdepth 1 -name '.tmp-*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
tmp="$(mktemp -d "$root/.tmp-$key.XXXXXX")"
child=""
trap 'rm -rf "$tmp"' EXIT
# On INT/TERM stop the running go build too (it would recreate $tmp).
trap '[[ -n "$child" ]] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null; exit 130' INT TERM
run() { # run a command in the background so the traps fire at once
	"$@" &
	child=$!
	wait "$child"
	child=""
}

# Version stamps, as upstream's hack/lib/version.sh sets them.
ver="${k8s_version#v}"
major="${ver%%.*}"
minor="${ver#*.}"
minor="${minor%%.*}"
build_date="$(date -u ${SOURCE_DATE_EPOCH:+--date=@$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)"
ldflags=(-s -w)
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=(
		-X "$pkg.gitVersion=$k8s_version"
		-X "$pkg.gitMajor=$major"
		-X "$pkg.gitMinor=$minor"
		-X "$pkg.gitTreeState=clean"
		-X "$pkg.buildDate=$build_date"
	)
done
ldflags+=(-X "go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version")

export CGO_ENABLED=0
if complete "$dest"; then
	echo "building kubectl $k8s_version into $dest..." >&2
	start=$SECONDS
	run "$GO" build -trimpath -ldflags "${ldflags[*]}" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
	mv -f "$tmp/kubectl" "$dest/kubectl"
	echo "built kubectl in $((SECONDS - start))s" >&2
	echo "$dest"
	exit 0
fi

echo "building $key (cold builds take several minutes)..." >&2
start=$SECONDS
# One go build per module; within it the shared packages compile once, in
# parallel. CGO_ENABLED=0 as upstream releases do: static binaries, pure-Go
# resolver.
run "$GO" build -trimpath -ldflags "${ldflags[*]}" -o "$tmp/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kubectl \
	./cmd/etcd
# kwok: its own module (kwok/go.mod), built against k8s.io/* v0.36.x.
run "$GO" -C kwok build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}" \
	-o "$tmp/" sigs.k8s.io/kwok/cmd/kwok

{ complete "$tmp" && [[ -x "$tmp/kubectl" ]]; } || { echo "build.sh: build did not produce all of: ${bins[*]} kubectl" >&2; exit 1; }
chmod 0755 "$tmp"

# Rename into place. A leftover incomplete directory (someone deleted a
# binary) is replaced; if a concurrent build won the race, keep its result.
if [[ -e "$dest" ]] && ! complete "$dest"; then
	rm -rf "$dest"
fi
if ! mv -T "$tmp" "$dest" 2>/dev/null; then
	complete "$dest" || { echo "build.sh: cannot move $tmp to $dest" >&2; exit 1; }
fi
echo "built $key in $((SECONDS - start))s" >&2
echo "$dest"
