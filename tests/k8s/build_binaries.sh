#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries the k8s tests run (etcd, kube-apiserver,
# kube-controller-manager) and helm, from the Go module proxy, into a cache outside the repo:
#
#   ~/.cache/airlock-k8s/<versions>/bin/{etcd,kube-apiserver,kube-controller-manager,helm}
#
# Idempotent: a binary already in the cache is not rebuilt. The last line printed is
# `BIN_DIR=<dir>`, which tests/k8s/controlplane.py reads (the versions live here only).
# Needs only Go (>= the version the modules ask for) and the module proxy. Be gentle on a shared
# machine with e.g. `nice -n 19 env GOMAXPROCS=2 bash tests/k8s/build_binaries.sh`.
set -euo pipefail

# k8s.io/kubernetes v1.X.Y is built with its staging modules (k8s.io/api, ...) at v0.X.Y;
# etcd follows the minor version that Kubernetes release tests against.
K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
HELM_VERSION=${HELM_VERSION:-v3.22.0}

CACHE=${AIRLOCK_K8S_CACHE:-$HOME/.cache/airlock-k8s}
# One directory per version set, so bumping any version never reuses an old binary.
BIN_DIR=$CACHE/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}/bin
SRC_DIR=$CACHE/src

# A private GOPATH/GOCACHE: the (large) module and build caches stay in one folder that can be
# removed at once (-modcacherw makes the module cache deletable), and the user's Go setup is
# neither used nor touched. CGO off gives static binaries, as upstream releases are.
export GOPATH=$CACHE/go
export GOMODCACHE=$GOPATH/pkg/mod
export GOCACHE=$CACHE/go-build
export GOFLAGS="-modcacherw -buildvcs=false -trimpath"
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
export CGO_ENABLED=0
export GOWORK=off

# Builds in parallel as much as GOMAXPROCS allows (Go's default for -p).
JOBS=${GOMAXPROCS:-$(nproc)}

mkdir -p "$BIN_DIR" "$SRC_DIR"
# One build at a time (parallel test runs may all ask for the binaries at once).
exec 9>"$CACHE/.lock"
flock 9

have() { [ -x "$BIN_DIR/$1" ]; }

log() { echo "build_binaries: $*" >&2; }

# Prints "<module> => <module> <version>" for each `<module> => ./<dir>` (or ../<dir>) replace of
# a module's go.mod: a released module is built against the published versions of the modules
# that its repository replaces with local directories.
pinned_replaces() {
  local gomod=$1 version=$2
  sed -n 's/^[[:space:]]*\([^[:space:]]*\)[[:space:]]*=>[[:space:]]*\.\{1,2\}\/.*$/\1/p' "$gomod" |
    while read -r module; do echo "	$module => $module $version"; done
}

# Writes a throw-away main module at $1 that requires $2@$3 with the replaces of $4.
wrapper_module() {
  local dir=$1 module=$2 version=$3 replaces=$4
  rm -rf "$dir"
  mkdir -p "$dir"
  {
    echo "module airlock.local/k8s-build"
    echo
    # `go get` raises this to what the required modules ask for.
    echo "go 1.24"
    echo
    echo "require $module $version"
    echo
    echo "replace ("
    echo "$replaces"
    echo ")"
  } >"$dir/go.mod"
}

# go mod download prints the module's go.mod path in its JSON; read it with plain sed.
module_gomod() {
  (cd "$SRC_DIR" && go mod download -json "$1@$2") | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p'
}

build_kubernetes() {
  local dir=$SRC_DIR/kubernetes-$K8S_VERSION gomod staging minor major
  gomod=$(module_gomod k8s.io/kubernetes "$K8S_VERSION")
  staging=v0.${K8S_VERSION#v1.}
  wrapper_module "$dir" k8s.io/kubernetes "$K8S_VERSION" "$(pinned_replaces "$gomod" "$staging")"
  major=${K8S_VERSION#v}
  major=${major%%.*}
  minor=${K8S_VERSION#v*.}
  minor=${minor%%.*}
  # The version the server reports (helm's kubeVersion checks read it); a plain `go build`
  # would report v0.0.0-master.
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  local cmd
  for cmd in kube-apiserver kube-controller-manager; do
    have "$cmd" && continue
    log "building $cmd $K8S_VERSION"
    local start=$SECONDS
    (cd "$dir" && go get "k8s.io/kubernetes/cmd/$cmd@$K8S_VERSION" &&
      go build -p "$JOBS" -ldflags "$ldflags" -o "$BIN_DIR/.$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$BIN_DIR/.$cmd.tmp" "$BIN_DIR/$cmd"
    log "$cmd built in $((SECONDS - start)) s"
  done
}

build_etcd() {
  have etcd && return
  log "building etcd $ETCD_VERSION"
  local dir=$SRC_DIR/etcd-$ETCD_VERSION gomod
  gomod=$(module_gomod go.etcd.io/etcd/server/v3 "$ETCD_VERSION")
  wrapper_module "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" \
    "$(pinned_replaces "$gomod" "$ETCD_VERSION")"
  # The server module's root package is etcd's main.
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" &&
    go build -p "$JOBS" -ldflags "-s -w" -o "$BIN_DIR/.etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$BIN_DIR/.etcd.tmp" "$BIN_DIR/etcd"
}

build_helm() {
  have helm && return
  log "building helm $HELM_VERSION"
  # helm's go.mod has no replaces, so `go install pkg@version` builds it as released.
  (cd "$SRC_DIR" && GOBIN="$BIN_DIR/.helm-tmp" go install -p "$JOBS" \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  mv "$BIN_DIR/.helm-tmp/helm" "$BIN_DIR/helm"
  rmdir "$BIN_DIR/.helm-tmp"
}

timed() {
  local start=$SECONDS
  "$@"
  log "$1 took $((SECONDS - start)) s"
}

if ! have etcd || ! have kube-apiserver || ! have kube-controller-manager || ! have helm; then
  command -v go >/dev/null || { log "Go is needed (apt-get install golang, or go.dev)"; exit 1; }
  timed build_etcd
  timed build_kubernetes
  timed build_helm
fi

for b in etcd kube-apiserver kube-controller-manager helm; do
  echo "$BIN_DIR/$b"
done
echo "BIN_DIR=$BIN_DIR"
