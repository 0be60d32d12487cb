// Package testutil holds helpers shared by the tests of several packages:
// the gate of tests that need the pinned Kubernetes binaries, and the
// lookup of the processes a test left running. Its subpackage pgtest runs
// a throwaway PostgreSQL server. WaitFor polls for a condition; Do sends
// an HTTP request and reads the whole answer.
package testutil

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// K8sBinaries are the programs `make k8s-bins` builds and the local
// control-plane provider runs.
var K8sBinaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok"}

// NeedK8sBinaries is the first call of a test that runs the pinned
// Kubernetes binaries from dir. With -short (make test-unit) it skips the
// test; otherwise a binary that is missing or not executable fails the
// test, naming it and the make target that builds it, so that `make test`
// never passes without having run the test.
func NeedK8sBinaries(t testing.TB, dir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Kubernetes binaries: skipped with -short (make test-unit); make test-e2e runs it")
	}
	for _, name := range K8sBinaries {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			t.Fatalf("%s not found in %s (%v): run `make k8s-bins` to build the pinned Kubernetes binaries (make test and make test-e2e do)", name, dir, err)
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			t.Fatalf("%s is not an executable file: run `make k8s-bins` to build the pinned Kubernetes binaries (make test and make test-e2e do)", p)
		}
	}
}

// ProcsUnder lists the live processes other than the test itself whose
// command line mentions s (typically a directory the test created);
// processes that have exited are not listed, reaped or not.
func ProcsUnder(t testing.TB, s string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		// A zombie (exited, not yet reaped) has an empty command line.
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// maxCaseName is the length at which CaseName shortens a name.
const maxCaseName = 40

// CaseName names the row of a table test after its input s: s quoted as
// Go does, and if longer than 40 bytes its start followed by "…" and the
// length of s, so that rows whose inputs differ only far in stay apart.
func CaseName(s string) string {
	q := strconv.Quote(s)
	if len(q) <= maxCaseName {
		return q
	}
	cut := maxCaseName
	for cut > 0 && !utf8.RuneStart(q[cut]) {
		cut--
	}
	return q[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// WaitFor polls cond every 100ms until it holds, and fails the test when
// it still does not after d; what names the awaited state.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Do sends req with client and returns the answer's status, header and
// whole body; a failure to send or to read fails the test.
func Do(t testing.TB, client *http.Client, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// JWTLifetime is exp - iat of a JWT, read without verifying it (a token a
// test got from a server it trusts).
func JWTLifetime(t testing.TB, jwt string) time.Duration {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Exp, Iat int64 }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return time.Duration(c.Exp-c.Iat) * time.Second
}
