package functions

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// logSubject carries a function's finished invocations (core NATS: a
// follower gets what finishes while it follows, on any server).
func logSubject(functionID string) string { return "hks.fn.invocations." + functionID }

// publish tells the followers of fn's logs about inv.
func (s *Service) publish(fn store.Function, inv store.Invocation) {
	b, err := json.Marshal(invocationOut(fn, inv))
	if err == nil {
		err = s.cfg.NATS.Publish(logSubject(fn.ID), b)
	}
	if err != nil {
		s.cfg.Logger.Warn("publish function invocation", "invocation", inv.ID, "error", err)
	}
}

// heartbeat keeps a followed stream's connection open through proxies.
const heartbeat = 15 * time.Second

func (s *Service) logs(w http.ResponseWriter, r *http.Request) {
	follow := r.URL.Query().Get("follow")
	if follow != "" && follow != "true" && follow != "false" {
		httpapi.WriteError(w, r, httpapi.Invalid(httpapi.Field("follow", "must be true or false")))
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxLimit {
			httpapi.WriteError(w, r, httpapi.Invalid(httpapi.Field("limit", "must be an integer from 1 to 500")))
			return
		}
		limit = n
	}
	_, fn, err := s.scope(r, authz.View)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if follow != "true" {
		is, _, err := s.cfg.Store.ListInvocations(r.Context(), fn.ID, store.Page{Limit: limit})
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		out := make([]any, 0, len(is))
		for _, i := range is {
			out = append(out, invocationOut(fn, i))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(httpapi.NewList(out, ""))
		return
	}
	// A followed log is a long-lived request: it counts against the
	// caller's cap on those, as an application's followed log does.
	p, _ := httpapi.PrincipalFrom(r.Context())
	release, ok := s.streams.Acquire(p.UserID)
	if !ok {
		httpapi.WriteError(w, r, s.streams.TooManyOpen(p.UserID, "long-lived requests (followed logs, and watches, exec, attach, port-forward through the workspace gateway) of this user"))
		return
	}
	defer release()
	ch := make(chan *nats.Msg, 64)
	sub, err := s.cfg.NATS.ChanSubscribe(logSubject(fn.ID), ch)
	if err != nil {
		httpapi.WriteError(w, r, fmt.Errorf("follow logs: %w", err))
		return
	}
	defer sub.Unsubscribe() //nolint:errcheck
	// The subscription is in effect on the server before the stream opens.
	if err := s.cfg.NATS.FlushTimeout(10 * time.Second); err != nil {
		httpapi.WriteError(w, r, fmt.Errorf("follow logs: %w", err))
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The stream is open (and subscribed): say so at once.
	if _, err := fmt.Fprint(w, ": following\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case m := <-ch:
			if _, err := fmt.Fprintf(w, "event: invocation\ndata: %s\n\n", m.Data); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}
