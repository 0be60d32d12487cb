package aiops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

func TestMaskerMasksAndUnmasks(t *testing.T) {
	sc := tenancy.WorkspaceScope{Principal: httpapi.Principal{Email: "ann@acme.example"}, Org: store.Organization{Slug: "acme", Name: "Acme Corp"},
		Workspace: store.Workspace{Name: "prod"}, Projects: []store.Project{{Name: "shop"}, {Name: "internal-billing"}}}
	m := newMasker([]byte("k"), "chat-1", sc)
	tool := "name: web-7c9d\nnamespace: shop\nimage: nginx:1.27\n"
	msgs := m.messages([]llm.Message{{Role: "system", Content: "workspace prod of acme, projects shop, internal-billing; user ann@acme.example"},
		{Role: "tool", Content: tool}})
	sent := msgs[0].Content + msgs[1].Content
	for _, name := range []string{"prod", "acme", "shop", "internal-billing", "ann@acme.example", "web-7c9d"} {
		if strings.Contains(sent, name) {
			t.Errorf("%q reaches the provider: %s", name, sent)
		}
	}
	if !strings.Contains(sent, "nginx:1.27") {
		t.Errorf("the image was masked: %s", sent)
	}
	// The same name, the same mask, every time.
	if again := newMasker([]byte("k"), "chat-1", sc).mask("shop"); again != m.mask("shop") {
		t.Errorf("masks differ: %s %s", again, m.mask("shop"))
	}
	web := m.mask("web-7c9d")
	if got := m.unmask("scale " + web + " in " + m.mask("shop")); got != "scale web-7c9d in shop" {
		t.Errorf("unmask: %q", got)
	}
	// Streamed: a mask split across deltas is put back whole.
	var out strings.Builder
	emit := m.stream(func(s string) { out.WriteString(s) })
	reply := "Restart " + web + " now."
	for i := 0; i < len(reply); i += 3 {
		emit(reply[i:min(i+3, len(reply))])
	}
	m.flush()
	if out.String() != "Restart web-7c9d now." {
		t.Errorf("streamed: %q", out.String())
	}
}

func TestHistoryStartsAtAUserMessage(t *testing.T) {
	big := strings.Repeat("x", historyBytes/2)
	ms := []store.ChatMessage{
		{Role: store.MessageUser, Content: "old question"},
		{Role: store.MessageAssistant, Content: big, ToolCalls: `[{"id":"c1","name":"events","arguments":"{}"}]`},
		{Role: store.MessageTool, Content: big, ToolCallID: "c1"},
		{Role: store.MessageAssistant, Content: "answer"},
		{Role: store.MessageUser, Content: "new question"},
		{Role: store.MessageAssistant, Content: "", ToolCalls: `[{"id":"c2","name":"diagnose","arguments":"{}"}]`},
		{Role: store.MessageTool, Content: "findings", ToolCallID: "c2"},
	}
	h := historyMessages(ms)
	if len(h) != 3 || h[0].Role != "user" || h[0].Content != "new question" || h[1].ToolCalls[0].Name != "diagnose" || h[2].ToolCallID != "c2" {
		t.Fatalf("history: %+v", h)
	}
	if got := historyMessages(ms[:4]); len(got) != 0 && got[0].Role != "user" {
		t.Fatalf("history starts with %s", got[0].Role)
	}
}

func TestCapText(t *testing.T) {
	s := strings.Repeat("é", 100) // 200 bytes
	got := capText(s, 51)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "[truncated: 150 more bytes]") {
		t.Fatalf("%q", got)
	}
	if capText("short", 10) != "short" {
		t.Fatal("short text changed")
	}
}

func TestMonthAndBudget(t *testing.T) {
	start, next := month(time.Date(2026, 12, 31, 23, 59, 0, 0, time.FixedZone("JST", 9*3600)))
	if !start.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !next.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("month: %v %v", start, next)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	e := budgetExceeded(1000, 1200, next, now)
	if e.Status != 429 || !strings.Contains(e.Detail, "1200 of its monthly budget of 1000 tokens") || !strings.Contains(e.Detail, "2027-01-01T00:00:00Z") || e.Header.Get("Retry-After") != "2116801" {
		t.Fatalf("%+v %v", e, e.Header)
	}
}

func TestTextAndNames(t *testing.T) {
	for s, want := range map[string]bool{"why is web down?\nand api": true, "tab\there": true, "bell\a": false, "nul\x00": false, "bad \xff utf8": false} {
		if textOK(s) != want {
			t.Errorf("textOK(%q) = %v", s, !want)
		}
	}
	for in, want := range map[string]string{"get_resource": "get_resource", "../../etc": "etc", "": "unknown", "DELETE everything": "everything"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameChange(t *testing.T) {
	a := "--- before\n+++ after\n@@ -12,7 +12,7 @@\n   progressDeadlineSeconds: 600\n-  replicas: 5\n+  replicas: 2\n   revisionHistoryLimit: 10\n"
	moved := strings.Replace(a, "@@ -12,7 +12,7 @@", "@@ -13,7 +13,7 @@", 1)
	other := strings.Replace(a, "+  replicas: 2", "+  replicas: 3", 1)
	if !sameChange(a, moved) || sameChange(a, other) || sameChange("", "") {
		t.Fatal("sameChange")
	}
}

// TestMaskerLearnsNamesFromWhatToolsPrint: names in tables, findings,
// kind/name references and emails are masked too (both reviews saw the
// names of list_resources rows and diagnose findings sent as they were).
func TestMaskerLearnsNamesFromWhatToolsPrint(t *testing.T) {
	m := newMasker([]byte("k"), "chat-1", tenancy.WorkspaceScope{Workspace: store.Workspace{Name: "prod"}})
	tool := "NAME            NAMESPACE  AGE  STATUS\npayroll-export  finance    4m   Ready=0/1\ncrash           finance    4m   Ready=0/1\n\n" +
		"CRITICAL Pods of Deployment finance/payroll-export are failing: Pod payroll-export-7d9f-x2k\n" +
		"event Warning BackOff on pod/api-server-1 by bob@corp.example\n"
	out := m.mask(tool)
	for _, name := range []string{"payroll-export", "finance", "crash", "api-server-1", "bob@corp.example", "payroll-export-7d9f-x2k"} {
		if strings.Contains(out, name) {
			t.Errorf("%q reaches the provider: %s", name, out)
		}
	}
	for _, kept := range []string{"NAME", "NAMESPACE", "Ready=0/1", "CRITICAL", "Deployment", "BackOff"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q was masked: %s", kept, out)
		}
	}
	if back := m.unmask(out); back != tool {
		t.Errorf("unmask:\n%s\nwant\n%s", back, tool)
	}
}

// TestToolErrorWording: every tool error the model reads is the tools
// package's wording, a refusal of the cluster's 403 is audited as denied,
// and a stale plan is not an internal failure (it was, before).
func TestToolErrorWording(t *testing.T) {
	s := &Service{cfg: Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	ctx := context.Background()
	for _, tc := range []struct {
		err         error
		text, audit string
	}{
		{&tools.ArgError{Field: "replicas", Message: "is required"}, "invalid argument replicas: is required", store.AuditFailure},
		{&tools.ClusterError{Status: 403, Reason: "Forbidden", Message: "no"}, "the workspace cluster refused (403 Forbidden): no", store.AuditDenied},
		{fmt.Errorf("dry run: %w", tools.ErrStale), "the object changed since the plan: make a fresh plan", store.AuditFailure},
		{errors.New("boom"), "the tool failed (internal error)", store.AuditFailure},
	} {
		text, audit := toolError(ctx, tc.err, s)
		if text != tc.text || audit != tc.audit {
			t.Errorf("%v: %q %s, want %q %s", tc.err, text, audit, tc.text, tc.audit)
		}
	}
}
