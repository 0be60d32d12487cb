package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

func TestCredentialsFileIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	t.Setenv("HKS_CONFIG_DIR", dir)
	if _, err := LoadCredentials(); err == nil || !strings.Contains(err.Error(), "hks login") {
		t.Fatalf("missing credentials: %v", err)
	}
	c := Credentials{Server: "http://127.0.0.1:8080", AccessToken: "a", RefreshToken: "r", ExpiresAt: time.Now().UTC().Truncate(time.Second)}
	if err := SaveCredentials(c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode %v", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("config dir mode %v", di.Mode().Perm())
	}
	got, err := LoadCredentials()
	if err != nil || !got.ExpiresAt.Equal(c.ExpiresAt) || got.RefreshToken != "r" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if err := RemoveCredentials(); err != nil {
		t.Fatal(err)
	}
}

func TestPrintFormats(t *testing.T) {
	rows := []map[string]any{{"id": "1", "name": "web", "quota": map[string]any{"cpu": "2", "pods": float64(10)}}}
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"CPU", "quota.cpu"}, {"PODS", "quota.pods"}}
	for format, want := range map[string]string{
		"table": "ID  NAME  CPU  PODS\n1   web   2    10\n",
		"json":  "[\n  {\n    \"id\": \"1\",",
		"yaml":  "- id: \"1\"\n  name: web\n  quota:\n    cpu: \"2\"\n    pods: 10\n",
	} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Print(&b, format, rows, cols); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.String(), want) {
				t.Errorf("%s:\n%s\nwant prefix:\n%s", format, b.String(), want)
			}
		})
	}
	if err := Print(&bytes.Buffer{}, "xml", rows, cols); err == nil {
		t.Fatal("unknown format accepted")
	}
	// API types print as their JSON fields, one row or a row each.
	p := api.Project{ID: "1", Name: "web", Quota: api.Quota{CPU: "2", Pods: 10}}
	for _, v := range []any{p, []api.Project{p}} {
		var b bytes.Buffer
		if err := Print(&b, "table", v, cols); err != nil {
			t.Fatal(err)
		}
		if want := "ID  NAME  CPU  PODS\n1   web   2    10\n"; b.String() != want {
			t.Errorf("table of %T:\n%s\nwant:\n%s", v, b.String(), want)
		}
	}
}
