package tenancy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/messaging/messagingtest"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// Short limits of the test API: event streams must outlive them.
const (
	testRequestTimeout = 300 * time.Millisecond
	testConnTimeout    = 500 * time.Millisecond
)

// harness is the tenancy API on a loopback HTTP server with the real
// store (SQLite), NATS, event publisher, task queue, authorizer and
// identity service.
type harness struct {
	t   *testing.T
	st  store.Store
	id  *identity.Service
	pub *events.Publisher
	cfg Config
	tn  *Service
	api *httpapi.API
	srv *httptest.Server
}

const testExternalURL = "https://hks.example.test"

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Logger: log})
	pub, err := events.New(ctx, events.Config{JS: nc.JetStream(), Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	q, err := tasks.New(ctx, tasks.Config{JS: nc.JetStream(), Store: st, Events: pub, Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{Store: st, Sealer: sealer, Logger: log, Now: time.Now, Issuer: testExternalURL, Audience: "hks",
		Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if err := id.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New(st)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, id: id, pub: pub}
	h.serve(Config{Store: st, Authz: az, Tasks: q, Events: pub, Stream: pub, ExternalURL: testExternalURL, Logger: log, Now: time.Now})
	return h
}

// serve builds the service from cfg and serves its API on a new loopback
// server.
func (h *harness) serve(cfg Config) {
	h.t.Helper()
	tn, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Logger: cfg.Logger, Registry: prometheus.NewRegistry(), Auth: h.id, RequestTimeout: testRequestTimeout,
		RouteMiddleware: []httpapi.RouteMiddleware{tn.ResolvePath}})
	if err != nil {
		h.t.Fatal(err)
	}
	api.Mount(tn.Routes()...)
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = testConnTimeout, testConnTimeout
	srv.Start()
	h.t.Cleanup(srv.Close)
	h.cfg, h.tn, h.api, h.srv = cfg, tn, api, srv
}

// withControlPlane is a second server over the same store, NATS and
// identity whose tenancy service was built with the control plane cp.
func (h *harness) withControlPlane(cp ControlPlane) *harness {
	return h.with(func(cfg *Config) { cfg.ControlPlane = cp })
}

// with is a second server over the same store, NATS and identity whose
// tenancy service was built with the configuration edit makes.
func (h *harness) with(edit func(*Config)) *harness {
	h.t.Helper()
	cfg := h.cfg
	edit(&cfg)
	h2 := &harness{t: h.t, st: h.st, id: h.id, pub: h.pub}
	h2.serve(cfg)
	return h2
}

// user creates a user and returns it with an access token.
func (h *harness) user(email string) (store.User, string) {
	h.t.Helper()
	ctx := h.t.Context()
	u, err := h.id.CreateUser(ctx, email, "password-"+email, false)
	if err != nil {
		h.t.Fatal(err)
	}
	tp, err := h.id.Login(ctx, email, "password-"+email, identity.ClientMeta{IP: "127.0.0.1"})
	if err != nil {
		h.t.Fatal(err)
	}
	return u, tp.AccessToken
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

// org makes an organization owned by owner with the other users as
// plain members.
// people are the callers of the access tests: the owner, a viewer and a
// member of organization acme, and an outsider who belongs to another.
type people struct {
	org                                         store.Organization
	owner, viewer, member, outsider             store.User
	ownerTok, viewerTok, memberTok, outsiderTok string
}

func (h *harness) acme() people {
	h.t.Helper()
	var p people
	p.owner, p.ownerTok = h.user("owner@example.com")
	p.viewer, p.viewerTok = h.user("viewer@example.com")
	p.member, p.memberTok = h.user("member@example.com")
	p.outsider, p.outsiderTok = h.user("outsider@example.com")
	p.org = h.org("acme", p.owner, p.viewer, p.member)
	h.org("other", p.outsider)
	return p
}

func (h *harness) org(slug string, owner store.User, members ...store.User) store.Organization {
	h.t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	o := store.Organization{ID: store.NewID(), Name: "Org " + slug, Slug: slug, CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateOrganization(h.t.Context(), o, store.OrgMember{OrgID: o.ID, UserID: owner.ID, Role: store.RoleOwner, CreatedAt: now}))
	for _, m := range members {
		h.must(h.st.AddOrgMember(h.t.Context(), store.OrgMember{OrgID: o.ID, UserID: m.ID, Role: store.RoleMember, CreatedAt: now}))
	}
	return o
}

// workspace makes a workspace in status, with viewers admitted to it
// through a group bound to the viewer role.
func (h *harness) workspace(o store.Organization, name, status string, creator store.User, viewers ...store.User) store.Workspace {
	h.t.Helper()
	ctx := h.t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ws := store.Workspace{ID: store.NewID(), OrgID: o.ID, Name: name, Plan: store.PlanShared, Status: status, CreatedBy: creator.ID, CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateWorkspace(ctx, ws))
	g := store.Group{ID: store.NewID(), WorkspaceID: ws.ID, Name: "viewers", CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateGroup(ctx, g))
	h.must(h.st.CreateRoleBinding(ctx, store.RoleBinding{ID: store.NewID(), WorkspaceID: ws.ID, GroupID: g.ID, Role: store.RoleViewer, CreatedAt: now}))
	for _, v := range viewers {
		h.must(h.st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: ws.ID, UserID: v.ID, CreatedAt: now}))
		h.must(h.st.AddGroupMember(ctx, store.GroupMember{GroupID: g.ID, UserID: v.ID, CreatedAt: now}))
	}
	return ws
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// project stores a project of ws named name under parent ("" for none).
func (h *harness) project(ws store.Workspace, name, parent string, now time.Time) store.Project {
	h.t.Helper()
	p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: name, ParentID: parent, CreatedAt: now, UpdatedAt: now, Version: 1}
	h.must(h.st.CreateProject(h.t.Context(), p))
	return p
}

func (h *harness) get(path, token string, hdr map[string]string) answer {
	h.t.Helper()
	return h.send("GET", path, token, nil, hdr)
}

// send makes a request with a JSON body (nil for none) and headers.
func (h *harness) send(method, path, token string, body any, hdr map[string]string) answer {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	status, header, b := testutil.Do(h.t, h.srv.Client(), req)
	return answer{status: status, header: header, body: b}
}

// problem decodes a problem+json answer.
func (a answer) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("status %d with content type %q, want problem+json: %s", a.status, ct, a.body)
	}
	var p api.Problem
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// sseStream reads Server-Sent Events from an open response.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	frames chan sseFrame
}

type sseFrame struct {
	event, id, data string
	comment         bool
}

// stream opens GET path as an event stream; it is closed at cleanup.
func (h *harness) stream(path, token string) *sseStream {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("stream %s: %d %s: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &sseStream{t: h.t, resp: resp, frames: make(chan sseFrame, 64)}
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		var f sseFrame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f != (sseFrame{}) {
					s.frames <- f
				}
				f = sseFrame{}
			case strings.HasPrefix(line, ":"):
				s.frames <- sseFrame{comment: true, data: line}
			case strings.HasPrefix(line, "event: "):
				f.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				f.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				f.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

// next returns the next event, skipping comments unless comments is set.
func (s *sseStream) next(comments bool) (sseFrame, events.Event) {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatal("the event stream ended")
			}
			if f.comment && !comments {
				continue
			}
			var ev events.Event
			if !f.comment {
				if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
					s.t.Fatalf("event data is not JSON: %v: %q", err, f.data)
				}
			}
			return f, ev
		case <-timeout:
			s.t.Fatal("no event within 10s")
		}
	}
}
