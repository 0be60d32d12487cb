package tenancy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func (s *Service) createOrg(r *http.Request) (any, error) {
	var req api.CreateOrganizationRequest
	p, err := principalBody(r, &req)
	if err != nil {
		return nil, err
	}
	if err := validateCreateOrg(&req); err != nil {
		return nil, err
	}
	now := s.clock()
	o := store.Organization{ID: store.NewID(), Name: req.Name, Slug: req.Slug, BillingEmail: req.BillingEmail, CreatedAt: now, UpdatedAt: now, Version: 1}
	owner := store.OrgMember{OrgID: o.ID, UserID: p.UserID, Role: store.RoleOwner, CreatedAt: now}
	if err := s.st.CreateOrganization(r.Context(), o, owner); err != nil {
		return nil, conflictField(err, "slug", fmt.Sprintf("the slug %q is taken", o.Slug))
	}
	s.events.Notify(r.Context(), o.ID, events.OrganizationCreated, o.ID, nil)
	return orgOut(o, store.RoleOwner), nil
}

func validateCreateOrg(req *api.CreateOrganizationRequest) error {
	if req.Slug == "" && checkDisplayName("name", req.Name) == nil {
		req.Slug = slugify(req.Name)
		if req.Slug == "" {
			return httpapi.Invalid(httpapi.Field("slug", "cannot be derived from the name; give a slug"))
		}
	}
	return collect(checkDisplayName("name", req.Name), checkLabel("slug", req.Slug), checkEmail("billing_email", req.BillingEmail, false))
}

func (s *Service) listOrgs(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	orgs, next, err := readPage(r, s.st.ListUserOrganizations, p.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Organization, 0, len(orgs))
	for _, o := range orgs {
		role, err := s.az.OrgRole(r.Context(), p.UserID, o.ID)
		if err != nil {
			continue // left since the page was read
		}
		out = append(out, orgOut(o, role))
	}
	return httpapi.NewList(out, next), nil
}

func (s *Service) getOrg(r *http.Request) (any, error) {
	oc, err := s.orgFor(r)
	if err != nil {
		return nil, err
	}
	return orgOut(oc.org, oc.role), nil
}

func (s *Service) updateOrg(r *http.Request) (any, error) {
	oc, err := s.orgWith(r, store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	patch, req, err := decodePatch(r, orgView(oc.org))
	if err != nil {
		return nil, err
	}
	if patch.Has("require_2fa") {
		if err := s.checkRequire2FA(r, oc, req.Require2FA != nil && *req.Require2FA); err != nil {
			return nil, err
		}
	}
	o, err := s.st.UpdateOrganization(r.Context(), oc.org.ID, func(o store.Organization) (store.Organization, error) {
		var req api.UpdateOrganizationRequest
		if err := patchVersioned(r, patch, orgView(o), &req, &req.ResourceVersion, o.Version); err != nil {
			return o, err
		}
		o.Name, o.Slug, o.BillingEmail = deref(req.Name), deref(req.Slug), deref(req.BillingEmail)
		o.Require2FA = req.Require2FA != nil && *req.Require2FA
		if err := collect(checkDisplayName("name", o.Name), checkLabel("slug", o.Slug), checkEmail("billing_email", o.BillingEmail, false)); err != nil {
			return o, err
		}
		o.UpdatedAt = s.clock()
		return o, nil
	})
	if err != nil {
		return nil, conflictField(err, "slug", fmt.Sprintf("the slug %q is taken", deref(req.Slug)))
	}
	s.events.Notify(r.Context(), o.ID, events.OrganizationUpdated, o.ID, nil)
	return orgOut(o, oc.role), nil
}

// orgView is the part of an organization a PATCH changes, as the patch
// sees it.
func orgView(o store.Organization) api.UpdateOrganizationRequest {
	return api.UpdateOrganizationRequest{Name: &o.Name, Slug: &o.Slug, BillingEmail: &o.BillingEmail, Require2FA: &o.Require2FA,
		ResourceVersion: version(o.Version)}
}

func (s *Service) deleteOrg(r *http.Request) (any, error) {
	oc, err := s.orgWith(r, store.RoleOwner)
	if err != nil {
		return nil, err
	}
	ws, _, err := s.st.ListWorkspaces(r.Context(), oc.org.ID, store.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(ws) > 0 {
		return nil, httpapi.Conflict("", "the organization still has workspaces; delete them first")
	}
	if err := s.st.DeleteOrganization(r.Context(), oc.org.ID); err != nil {
		return nil, err
	}
	s.events.Notify(r.Context(), oc.org.ID, events.OrganizationDeleted, oc.org.ID, nil)
	return nil, nil
}

func (s *Service) listMembers(r *http.Request) (any, error) {
	oc, err := s.orgFor(r)
	if err != nil {
		return nil, err
	}
	return listPage(r, s.st.ListOrgMembers, oc.org.ID, memberOut)
}

func checkOrgRole(field, role string) *api.FieldError {
	switch role {
	case store.RoleOwner, store.RoleAdmin, store.RoleMember:
		return nil
	case "":
		return &api.FieldError{Field: field, Message: "is required"}
	}
	return &api.FieldError{Field: field, Message: "must be owner, admin or member"}
}

// memberFor resolves {user} as a member of the organization.
func (s *Service) memberFor(r *http.Request, oc orgCtx) (store.OrgMember, error) {
	m, err := s.st.GetOrgMember(r.Context(), oc.org.ID, r.PathValue("user"))
	if errors.Is(err, store.ErrNotFound) {
		return m, httpapi.NotFound("member")
	}
	return m, err
}

// lastOwnerErr maps the store's refusal of a change that would leave the
// organization ownerless (a race the check below cannot see) to a 409.
func lastOwnerErr(err error) error {
	if errors.Is(err, store.ErrLastOwner) {
		e := httpapi.Conflict("", "an organization must keep at least one owner")
		e.Cause = err
		return e
	}
	return err
}

// lastOwner refuses a change that would leave the organization ownerless.
func (s *Service) lastOwner(r *http.Request, oc orgCtx, m store.OrgMember) error {
	if m.Role != store.RoleOwner {
		return nil
	}
	n, err := s.st.CountOrgMembersWithRole(r.Context(), oc.org.ID, store.RoleOwner)
	if err != nil {
		return err
	}
	if n <= 1 {
		return httpapi.Conflict("", "an organization must keep at least one owner")
	}
	return nil
}

func (s *Service) updateMember(r *http.Request) (any, error) {
	var req api.UpdateMemberRequest
	oc, err := s.orgBody(r, store.RoleAdmin, &req)
	if err != nil {
		return nil, err
	}
	if err := collect(checkOrgRole("role", req.Role)); err != nil {
		return nil, err
	}
	m, err := s.memberFor(r, oc)
	if err != nil {
		return nil, err
	}
	if (req.Role == store.RoleOwner || m.Role == store.RoleOwner) && oc.role != store.RoleOwner {
		return nil, httpapi.Forbidden("only an owner can grant or take away the owner role")
	}
	if req.Role != store.RoleOwner {
		if err := s.lastOwner(r, oc, m); err != nil {
			return nil, err
		}
	}
	if err := s.st.UpdateOrgMemberRole(r.Context(), oc.org.ID, m.UserID, req.Role); err != nil {
		return nil, lastOwnerErr(err)
	}
	m.Role = req.Role
	s.events.Notify(r.Context(), oc.org.ID, events.MemberUpdated, m.UserID, events.MemberData{Role: req.Role})
	return memberOut(m), nil
}

func (s *Service) removeMember(r *http.Request) (any, error) {
	oc, err := s.orgFor(r)
	if err != nil {
		return nil, err
	}
	self := r.PathValue("user") == oc.p.UserID
	if !self {
		if err := oc.require(store.RoleAdmin); err != nil {
			return nil, err
		}
	}
	m, err := s.memberFor(r, oc)
	if err != nil {
		return nil, err
	}
	if m.Role == store.RoleOwner && oc.role != store.RoleOwner {
		return nil, httpapi.Forbidden("only an owner can remove an owner")
	}
	if err := s.lastOwner(r, oc, m); err != nil {
		return nil, err
	}
	if err := s.st.RemoveOrgMember(r.Context(), oc.org.ID, m.UserID); err != nil {
		return nil, lastOwnerErr(err)
	}
	s.events.Notify(r.Context(), oc.org.ID, events.MemberRemoved, m.UserID, nil)
	return nil, nil
}

const (
	defaultInviteTTL = 7 * 24 * time.Hour
	maxInviteHours   = 720
)

func (s *Service) createInvitation(r *http.Request) (any, error) {
	var req api.CreateInvitationRequest
	oc, err := s.orgBody(r, store.RoleAdmin, &req)
	if err != nil {
		return nil, err
	}
	if req.Role == "" {
		req.Role = store.RoleMember
	}
	var hoursErr *api.FieldError
	if req.ExpiresInHours < 0 || req.ExpiresInHours > maxInviteHours {
		hoursErr = &api.FieldError{Field: "expires_in_hours", Message: "must be from 1 to 720"}
	}
	if err := collect(checkEmail("email", req.Email, true), checkOrgRole("role", req.Role), hoursErr); err != nil {
		return nil, err
	}
	if req.Role == store.RoleOwner && oc.role != store.RoleOwner {
		return nil, httpapi.Forbidden("only an owner can invite an owner")
	}
	if u, err := s.st.GetUserByEmail(r.Context(), req.Email); err == nil {
		if _, err := s.st.GetOrgMember(r.Context(), oc.org.ID, u.ID); err == nil {
			return nil, httpapi.Conflict("email", "is already a member of the organization")
		}
	}
	ttl := defaultInviteTTL
	if req.ExpiresInHours > 0 {
		ttl = time.Duration(req.ExpiresInHours) * time.Hour
	}
	now := s.clock()
	token, hash := newSecret()
	inv := store.Invitation{ID: store.NewID(), OrgID: oc.org.ID, Email: req.Email, Role: req.Role, TokenHash: hash,
		InvitedBy: oc.p.UserID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.st.CreateInvitation(r.Context(), inv); err != nil {
		return nil, conflictField(err, "email", "has a pending invitation already")
	}
	out := invitationOut(inv)
	out.Token = token
	s.events.Notify(r.Context(), oc.org.ID, events.InvitationCreated, inv.ID, nil)
	return out, nil
}

func (s *Service) listInvitations(r *http.Request) (any, error) {
	oc, err := s.orgWith(r, store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	return listPage(r, s.st.ListInvitations, oc.org.ID, invitationOut)
}

func (s *Service) deleteInvitation(r *http.Request) (any, error) {
	oc, err := s.orgWith(r, store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	inv, err := ownedBy(r.Context(), s.st.GetInvitation, r.PathValue("invitation"), oc.org.ID,
		func(i store.Invitation) string { return i.OrgID }, httpapi.NotFound("invitation"))
	if err != nil {
		return nil, err
	}
	return nil, s.st.DeleteInvitation(r.Context(), inv.ID)
}

func (s *Service) acceptInvitation(r *http.Request) (any, error) {
	var req api.AcceptInvitationRequest
	p, err := principalBody(r, &req)
	if err != nil {
		return nil, err
	}
	if req.Token == "" || len(req.Token) > 128 {
		return nil, httpapi.Invalid(httpapi.Field("token", "is required"))
	}
	inv, err := s.st.GetInvitationByTokenHash(r.Context(), hashSecret(req.Token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.Invalid(httpapi.Field("token", "is not a valid invitation token"))
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	switch {
	case inv.AcceptedAt != nil:
		return nil, httpapi.Conflict("token", "the invitation was accepted already")
	case !now.Before(inv.ExpiresAt):
		return nil, &httpapi.Error{Status: http.StatusGone, Type: "invitation-expired", Title: "Invitation expired",
			Detail: "the invitation expired; ask for a new one"}
	case !strings.EqualFold(inv.Email, p.Email):
		return nil, httpapi.Forbidden("the invitation was sent to another email address")
	}
	m := store.OrgMember{OrgID: inv.OrgID, UserID: p.UserID, Role: inv.Role, CreatedAt: now}
	if err := s.st.AcceptInvitation(r.Context(), inv.ID, m, now); err != nil {
		return nil, conflictField(err, "token", "the invitation was accepted already, or you are a member already")
	}
	o, err := s.st.GetOrganization(r.Context(), inv.OrgID)
	if err != nil {
		return nil, err
	}
	s.events.Notify(r.Context(), o.ID, events.MemberAdded, p.UserID, events.MemberData{Role: inv.Role})
	return orgOut(o, inv.Role), nil
}

// checkRequire2FA: only owners change require_2fa, and an owner turning it
// on must have two-factor authentication enabled (or they would lock
// themselves out).
func (s *Service) checkRequire2FA(r *http.Request, oc orgCtx, on bool) error {
	if oc.role != store.RoleOwner {
		return httpapi.Forbidden("require_2fa: only owners change it; you are " + oc.role)
	}
	if !on {
		return nil
	}
	m, err := s.st.GetMFA(r.Context(), oc.p.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.EnabledAt == nil) {
		return httpapi.Invalid(httpapi.Field("require_2fa", "enable two-factor authentication for yourself first (POST /auth/2fa/enroll)"))
	}
	if err != nil {
		return fmt.Errorf("get mfa: %w", err)
	}
	return nil
}
