package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// ListSessions returns userID's live sessions (neither revoked nor
// expired), newest first; current is the caller's session id.
func (s *Service) ListSessions(ctx context.Context, userID, current string) ([]api.SessionInfo, error) {
	all, err := s.st.ListUserSessions(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	act, err := s.st.ListSessionActivity(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	now := s.clock()
	out := []api.SessionInfo{}
	for _, x := range all {
		if x.RevokedAt != nil || !now.Before(x.ExpiresAt) {
			continue
		}
		info := api.SessionInfo{ID: x.ID, CreatedAt: x.CreatedAt, LastIP: x.IP, UserAgent: x.UserAgent, Current: x.ID == current, ExpiresAt: x.ExpiresAt}
		if a, ok := act[x.ID]; ok {
			seen := a.LastSeenAt
			info.LastIP, info.LastSeenAt = a.LastIP, &seen
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b api.SessionInfo) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// RevokeUserSession revokes one of userID's sessions. Another user's
// session, like an unknown one, is store.ErrNotFound.
func (s *Service) RevokeUserSession(ctx context.Context, userID, sessionID string) error {
	x, err := s.st.GetSession(ctx, sessionID)
	if err == nil && x.UserID != userID {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if err := s.revoke(ctx, sessionID); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	s.log.InfoContext(ctx, "session revoked", "user_id", userID, "session_id", sessionID)
	return nil
}

// RevokeAllSessions revokes every session of userID except keep ("" for
// none) and returns the ids it revoked. Their access tokens stop verifying
// at once in this process and within RevocationCacheTTL in others.
func (s *Service) RevokeAllSessions(ctx context.Context, userID, keep string) ([]string, error) {
	ids, err := s.st.RevokeUserSessions(ctx, userID, keep, s.clock())
	if err != nil {
		return nil, fmt.Errorf("revoke all sessions: %w", err)
	}
	now := s.now()
	for _, id := range ids {
		s.sessions.put(id, sessionEntry{revoked: true, checked: now})
	}
	s.log.InfoContext(ctx, "sessions revoked", "user_id", userID, "count", len(ids), "kept", keep)
	return ids, nil
}

// touchSession records the session's last activity; best effort.
func (s *Service) touchSession(ctx context.Context, id, ip string, now time.Time) {
	if err := s.st.TouchSession(ctx, id, ip, now); err != nil {
		s.log.WarnContext(ctx, "record session activity", "session_id", id, "err", err)
	}
}

func (s *Service) listSessions(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	xs, err := s.ListSessions(r.Context(), p.UserID, p.SessionID)
	if err != nil {
		return nil, err
	}
	return httpapi.NewList(xs, ""), nil
}

func (s *Service) deleteSession(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("session")
	if !validID(id) {
		return nil, httpapi.NotFound("session")
	}
	err = s.RevokeUserSession(r.Context(), p.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.NotFound("session")
	}
	return nil, err
}

func (s *Service) revokeAll(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	var req api.RevokeAllRequest
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
	}
	keep := ""
	if req.KeepCurrent {
		keep = p.SessionID
	}
	ids, err := s.RevokeAllSessions(r.Context(), p.UserID, keep)
	if err != nil {
		return nil, err
	}
	return api.RevokeAllResult{Revoked: ids}, nil
}

// validID accepts the session ids store.NewID makes (UUIDs), so that
// garbage never reaches the store.
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'):
		default:
			return false
		}
	}
	return true
}

// SessionRoutes returns the session management routes. s may be a zero
// Service when only the route table is wanted.
func (s *Service) SessionRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/auth/sessions", Tag: "auth", Summary: "The caller's live sessions", Response: api.List[api.SessionInfo]{}, Handle: s.listSessions},
		{Method: "DELETE", Path: "/auth/sessions/{session}", Tag: "auth", Summary: "End one of the caller's sessions", Status: http.StatusNoContent, Handle: s.deleteSession},
		{Method: "POST", Path: "/auth/sessions/revoke-all", Tag: "auth", Summary: "End all of the caller's sessions, optionally except the current one",
			Request: api.RevokeAllRequest{}, Response: api.RevokeAllResult{}, Handle: s.revokeAll},
	}
}
