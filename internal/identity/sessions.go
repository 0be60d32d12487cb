package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// SessionInfo is one of the caller's sessions as GET /auth/sessions shows it.
type SessionInfo struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastIP     string     `json:"last_ip" doc:"the client address of the last sign-in or refresh"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty" doc:"when the session was last refreshed"`
	UserAgent  string     `json:"user_agent"`
	Current    bool       `json:"current" doc:"true for the session of the token that made this request"`
	ExpiresAt  time.Time  `json:"expires_at"`
}

// RevokeAllRequest is the body of POST /auth/sessions/revoke-all.
type RevokeAllRequest struct {
	KeepCurrent bool `json:"keep_current" doc:"keep the session of the token that made this request"`
}

// RevokeAllResult lists the sessions POST /auth/sessions/revoke-all ended.
type RevokeAllResult struct {
	Revoked []string `json:"revoked"`
}

// ListSessions returns userID's live sessions (neither revoked nor
// expired), newest first; current is the caller's session id.
func (s *Service) ListSessions(ctx context.Context, userID, current string) ([]SessionInfo, error) {
	all, err := s.st.ListUserSessions(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	act, err := s.st.ListSessionActivity(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	now := s.clock()
	out := []SessionInfo{}
	for _, x := range all {
		if x.RevokedAt != nil || !now.Before(x.ExpiresAt) {
			continue
		}
		info := SessionInfo{ID: x.ID, CreatedAt: x.CreatedAt, LastIP: x.IP, UserAgent: x.UserAgent, Current: x.ID == current, ExpiresAt: x.ExpiresAt}
		if a, ok := act[x.ID]; ok {
			seen := a.LastSeenAt
			info.LastIP, info.LastSeenAt = a.LastIP, &seen
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return b.CreatedAt.Compare(a.CreatedAt) })
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
	id := r.PathValue("id")
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
	var req RevokeAllRequest
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
	return RevokeAllResult{Revoked: ids}, nil
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
		{Method: "GET", Path: "/auth/sessions", Tag: "auth", Summary: "The caller's live sessions", Response: httpapi.List[SessionInfo]{}, Handle: s.listSessions},
		{Method: "DELETE", Path: "/auth/sessions/{id}", Tag: "auth", Summary: "End one of the caller's sessions", Status: http.StatusNoContent, Handle: s.deleteSession},
		{Method: "POST", Path: "/auth/sessions/revoke-all", Tag: "auth", Summary: "End all of the caller's sessions, optionally except the current one",
			Request: RevokeAllRequest{}, Response: RevokeAllResult{}, Handle: s.revokeAll},
	}
}
