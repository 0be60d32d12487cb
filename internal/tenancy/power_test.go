package tenancy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestWorkspaceSleepAfter: sleep_after takes a duration of whole seconds
// from 10s to 720h, 0 for never, or "default"; anything else is a 422
// naming the field, and the stored setting is unchanged.
func TestWorkspaceSleepAfter(t *testing.T) {
	h := newHarness(t).with(func(c *Config) { c.SleepAfterDefault = 30 * time.Minute })
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	path := fmt.Sprintf("/api/v1/organizations/%s/workspaces/%s", o.ID, ws.ID)

	a := h.get(path, tok, nil)
	if got := decodeAs[api.Workspace](t, a); got.SleepAfter != "0s" || got.SleepAfterDefault {
		t.Fatalf("a workspace stored with 0: %d %s", a.status, a.body)
	}
	for _, tc := range []struct {
		in, want string
		def      bool
	}{
		{"20s", "20s", false},
		{"2h", "2h0m0s", false},
		{"0", "0s", false},
		{"720h", "720h0m0s", false},
		{"default", "30m0s", true},
		{"0s", "0s", false},
	} {
		a := h.send("PATCH", path, tok, map[string]any{"sleep_after": tc.in}, nil)
		got := decodeAs[api.Workspace](t, a)
		if a.status != 200 || got.SleepAfter != tc.want || got.SleepAfterDefault != tc.def || got.Name != "prod" {
			t.Errorf("sleep_after %q: %d %s; want %s (default %v), name kept", tc.in, a.status, a.body, tc.want, tc.def)
		}
	}
	h.send("PATCH", path, tok, map[string]any{"sleep_after": "20s"}, nil)
	for _, bad := range []any{"-5m", "-1", "999999h", "721h", "1e309", "500ms", "9s", "1.5s", "soon", "", 20} {
		a := h.send("PATCH", path, tok, map[string]any{"sleep_after": bad}, nil)
		if a.status != 422 && a.status != 400 {
			t.Errorf("sleep_after %v: %d %s, want 422", bad, a.status, a.body)
			continue
		}
		if p := a.problem(t); a.status == 422 && (len(p.Errors) != 1 || p.Errors[0].Field != "sleep_after") {
			t.Errorf("sleep_after %v: %s, want one error naming sleep_after", bad, a.body)
		}
	}
	if got, _ := h.st.GetWorkspace(t.Context(), ws.ID); got.SleepAfter != 20 {
		t.Errorf("after the refusals the stored sleep_after is %d, want 20", got.SleepAfter)
	}
	// null is the operator's default again.
	if got := decodeAs[api.Workspace](t, h.send("PATCH", path, tok, map[string]any{"sleep_after": nil}, nil)); !got.SleepAfterDefault || got.SleepAfter != "30m0s" {
		t.Errorf("sleep_after null: %+v", got)
	}
}

// TestHibernationSchedules: schedules are validated with the CronJob
// parser; a bad field is a 422 naming it (hibernation[0].start) with the
// parser's words, and nothing is stored.
func TestHibernationSchedules(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	path := fmt.Sprintf("/api/v1/organizations/%s/workspaces/%s", o.ID, ws.ID)

	good := []api.HibernationSchedule{{Start: "0 19 * * 1-5", End: "0 7 * * 1-5", Location: "Europe/Berlin"}, {Start: "0 22 * * 6"}}
	a := h.send("PATCH", path, tok, map[string]any{"hibernation": good}, nil)
	if got := decodeAs[api.Workspace](t, a); a.status != 200 || len(got.Hibernation) != 2 || got.Hibernation[0] != good[0] {
		t.Fatalf("set schedules: %d %s", a.status, a.body)
	}
	many := make([]api.HibernationSchedule, MaxHibernationSchedules+1)
	for i := range many {
		many[i].Start = "0 19 * * *"
	}
	for _, tc := range []struct {
		name  string
		sched any
		field string
		says  string
	}{
		{"minute out of range", []api.HibernationSchedule{{Start: "61 19 * * *"}}, "hibernation[0].start", "minute"},
		{"bad end hour", []api.HibernationSchedule{{Start: "0 19 * * *"}, {End: "0 25 * * *"}}, "hibernation[1].end", "hour"},
		{"unknown zone", []api.HibernationSchedule{{Start: "0 19 * * *", Location: "Mars/Olympus"}}, "hibernation[0].location", "Mars/Olympus"},
		{"neither start nor end", []api.HibernationSchedule{{Location: "UTC"}}, "hibernation[0]", "start"},
		{"too many", many, "hibernation", "at most"},
		{"not a list", "0 19 * * *", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.send("PATCH", path, tok, map[string]any{"hibernation": tc.sched}, nil)
			if tc.field == "" {
				if a.status != 422 && a.status != 400 {
					t.Fatalf("%d %s, want 400 or 422", a.status, a.body)
				}
				return
			}
			p := a.problem(t)
			if a.status != 422 || len(p.Errors) == 0 || p.Errors[0].Field != tc.field || !strings.Contains(p.Errors[0].Message, tc.says) {
				t.Fatalf("%d %s, want 422 naming %s (%q)", a.status, a.body, tc.field, tc.says)
			}
		})
	}
	if got, _ := h.st.GetWorkspace(t.Context(), ws.ID); !strings.Contains(got.Hibernation, "Europe/Berlin") {
		t.Errorf("the refusals changed the stored schedules: %q", got.Hibernation)
	}
	if got := decodeAs[api.Workspace](t, h.send("PATCH", path, tok, map[string]any{"hibernation": nil}, nil)); len(got.Hibernation) != 0 {
		t.Errorf("hibernation null: %+v", got.Hibernation)
	}
}

// TestHibernationWindows: start and end activations in their zone, and
// the window test (the next end comes before the next start).
func TestHibernationWindows(t *testing.T) {
	hs, err := ParseHibernation(`[{"start":"0 19 * * 1-5","end":"0 7 * * 1-5","location":"Europe/Berlin"}]`)
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2026-12-07 is a Monday.
	for _, tc := range []struct {
		now    string
		window bool
	}{
		{"2026-12-07 12:00", false},
		{"2026-12-07 19:30", true},
		{"2026-12-08 06:59", true},
		{"2026-12-08 07:01", false},
		{"2026-12-11 23:00", true}, // Friday night
		{"2026-12-13 12:00", true}, // Sunday: asleep until Monday 07:00
		{"2026-12-14 08:00", false},
	} {
		if got := InWindow(hs, at(tc.now)); got != tc.window {
			t.Errorf("InWindow(%s) = %v, want %v", tc.now, got, tc.window)
		}
	}
	if !StartBetween(hs, at("2026-12-07 18:59"), at("2026-12-07 19:00")) || StartBetween(hs, at("2026-12-07 19:00"), at("2026-12-07 19:05")) {
		t.Error("StartBetween: the 19:00 start is in (18:59, 19:00] only")
	}
	if !EndBetween(hs, at("2026-12-11 20:00"), at("2026-12-14 07:00")) || EndBetween(hs, at("2026-12-11 20:00"), at("2026-12-14 06:59")) {
		t.Error("EndBetween: Friday's window ends Monday 07:00")
	}
	if _, err := ParseHibernation(`[{"start":"99 * * * *"}]`); err == nil {
		t.Error("ParseHibernation accepted a bad stored schedule")
	}
}

// TestSleepAndWakeRoutes: workspace admins put a running workspace to
// sleep and wake it (202 with the task; 200 when it is there already);
// weaker roles are refused; a workspace in another status is a 409.
func TestSleepAndWakeRoutes(t *testing.T) {
	h := newHarness(t)
	p := h.acme()
	up := h.workspace(p.org, "up", store.WorkspaceRunning, p.owner, p.viewer)
	pending := h.workspace(p.org, "pending", store.WorkspacePending, p.owner)
	h = h.withControlPlane(controlPlaneDouble{up: map[string]bool{up.ID: true}})
	base := "/api/v1/organizations/" + p.org.ID + "/workspaces/"

	for _, who := range []struct{ name, tok string }{{"viewer", p.viewerTok}, {"member", p.memberTok}, {"outsider", p.outsiderTok}} {
		for _, action := range []string{"sleep", "wake"} {
			if a := h.send("POST", base+up.ID+"/"+action, who.tok, nil, nil); a.status != 403 && a.status != 404 {
				t.Errorf("%s %s: %d %s, want 403/404", who.name, action, a.status, a.body)
			}
		}
	}
	step := func(action string, want int, status string) api.Workspace {
		t.Helper()
		a := h.send("POST", base+up.ID+"/"+action, p.ownerTok, nil, nil)
		got := decodeAs[api.Workspace](t, a)
		if a.status != want || got.Status != status {
			t.Fatalf("%s: %d %s, want %d %s", action, a.status, a.body, want, status)
		}
		if stored, _ := h.st.GetWorkspace(t.Context(), up.ID); stored.Status != status {
			t.Fatalf("%s: stored status %s, want %s", action, stored.Status, status)
		}
		return got
	}
	got := step("sleep", 202, store.WorkspaceSleeping)
	if got.TaskID == "" || !strings.Contains(got.StatusReason, "owner@example.com") {
		t.Errorf("sleep: task %q reason %q", got.TaskID, got.StatusReason)
	}
	if task, err := h.st.GetTask(t.Context(), got.TaskID); err != nil || task.Kind != TaskWorkspaceSleep {
		t.Errorf("sleep task: %+v %v", task, err)
	}
	step("sleep", 200, store.WorkspaceSleeping)
	got = step("wake", 202, store.WorkspaceWaking)
	if task, err := h.st.GetTask(t.Context(), got.TaskID); err != nil || task.Kind != TaskWorkspaceWake {
		t.Errorf("wake task: %+v %v", task, err)
	}
	step("wake", 200, store.WorkspaceWaking)
	if a := h.send("POST", base+up.ID+"/sleep", p.ownerTok, nil, nil); a.status != 409 {
		t.Errorf("sleep while waking: %d %s, want 409", a.status, a.body)
	}
	for _, action := range []string{"sleep", "wake"} {
		if a := h.send("POST", base+pending.ID+"/"+action, p.ownerTok, nil, nil); a.status != 409 {
			t.Errorf("%s a pending workspace: %d %s, want 409", action, a.status, a.body)
		}
	}
	if a := h.send("POST", base+"no-such-workspace/wake", p.ownerTok, nil, nil); a.status != 404 {
		t.Errorf("wake an unknown workspace: %d %s, want 404", a.status, a.body)
	}
}

// TestHibernationAtMostHourly: an expression that fires more often than
// once an hour is refused (each activation stops or starts a control
// plane), naming the field.
func TestHibernationAtMostHourly(t *testing.T) {
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{"* * * * *", false},
		{"*/30 * * * *", false},
		{"0,59 9 * * *", false},
		{"0 * * * *", true},
		{"0 19 * * 1-5", true},
		{"@daily", true},
	} {
		_, fes := checkHibernation([]api.HibernationSchedule{{Start: "0 7 * * *", End: tc.expr}})
		if ok := len(fes) == 0; ok != tc.ok || (!ok && fes[0].Field != "hibernation[0].end") {
			t.Errorf("end %q: errors %v, want ok %v", tc.expr, fes, tc.ok)
		}
	}
}
