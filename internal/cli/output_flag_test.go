package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestOutputFormatCheckedBeforeAnyRequest: `org create -o jsn` fails
// before it sends anything, so nothing is created behind the error.
func TestOutputFormatCheckedBeforeAnyRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": "x"})
	}))
	defer srv.Close()
	t.Setenv("HKS_CONFIG_DIR", t.TempDir())
	if err := SaveCredentials(Credentials{Server: srv.URL, AccessToken: "a", RefreshToken: "r", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, format string
		wantErr      bool
	}{{"typo", "jsn", true}, {"json", "json", false}} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			root := &cobra.Command{Use: "hks", SilenceUsage: true, SilenceErrors: true}
			AddCommands(root)
			root.SetOut(&strings.Builder{})
			root.SetArgs([]string{"org", "create", "Acme", "-o", tc.format})
			err := root.Execute()
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), `unknown output format "jsn"`) {
					t.Fatalf("err = %v", err)
				}
				if n := calls.Load(); n != 0 {
					t.Fatalf("%d requests sent before the format was checked", n)
				}
				return
			}
			if err != nil || calls.Load() != 1 {
				t.Fatalf("err = %v, %d requests", err, calls.Load())
			}
		})
	}
}
