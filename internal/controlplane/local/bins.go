package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
)

// BinariesKey names the pinned versions tools/k8s/build.sh builds; it is
// the name of the cache directory `make k8s-bins` fills. It must change
// with tools/k8s/go.mod (TestBinariesKeyMatchesTools checks).
const BinariesKey = "k8s-v1.35.4_etcd-v3.6.16_kwok-v0.8.0"

// KubernetesVersion is the version of the pinned control-plane binaries.
const KubernetesVersion = "v1.35.4"

// Binaries are the paths of the programs the local provider runs.
type Binaries struct {
	APIServer, ControllerManager, Scheduler, Etcd, Kwok string
}

// DefaultBinDir is where `make k8s-bins` puts the binaries:
// <user cache dir>/hks/k8s-bins/<BinariesKey>.
func DefaultBinDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache dir: %w", err)
	}
	return filepath.Join(d, "hks", "k8s-bins", BinariesKey), nil
}

// FindBinaries returns the binaries in dir ("" means DefaultBinDir). A
// missing or non-executable one is an error wrapping
// controlplane.ErrBinaryMissing that says how to get it.
func FindBinaries(dir string) (Binaries, error) {
	hint := "pass --k8s-bin-dir with a directory holding it"
	if dir == "" {
		d, err := DefaultBinDir()
		if err != nil {
			return Binaries{}, err
		}
		dir = d
		hint = "run `make k8s-bins` to build the pinned binaries there, or pass --k8s-bin-dir"
	}
	b := Binaries{
		APIServer:         filepath.Join(dir, "kube-apiserver"),
		ControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Scheduler:         filepath.Join(dir, "kube-scheduler"),
		Etcd:              filepath.Join(dir, "etcd"),
		Kwok:              filepath.Join(dir, "kwok"),
	}
	for _, p := range []string{b.APIServer, b.ControllerManager, b.Scheduler, b.Etcd, b.Kwok} {
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return Binaries{}, fmt.Errorf("%w: %s not found in %s: %s", controlplane.ErrBinaryMissing, filepath.Base(p), dir, hint)
		case err != nil:
			return Binaries{}, fmt.Errorf("%w: %s: %v", controlplane.ErrBinaryMissing, p, err)
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			return Binaries{}, fmt.Errorf("%w: %s is not an executable file: %s", controlplane.ErrBinaryMissing, p, hint)
		}
	}
	return b, nil
}
