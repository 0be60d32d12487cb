package audit

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Mutating reports whether requests with method are audited.
func Mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// actions names the mutations of the routes that exist; routes not listed
// here and without a Route.Action get a name derived from their method and
// path (see ActionFor).
var actions = map[string]string{
	"POST /api/v1/organizations":                                                              "organization.create",
	"PATCH /api/v1/organizations/{org}":                                                       "organization.update",
	"DELETE /api/v1/organizations/{org}":                                                      "organization.delete",
	"PATCH /api/v1/organizations/{org}/members/{user}":                                        "organization.member.update",
	"DELETE /api/v1/organizations/{org}/members/{user}":                                       "organization.member.remove",
	"POST /api/v1/organizations/{org}/invitations":                                            "organization.invitation.create",
	"DELETE /api/v1/organizations/{org}/invitations/{invitation}":                             "organization.invitation.delete",
	"POST /api/v1/invitations/accept":                                                         "organization.invitation.accept",
	"POST /api/v1/organizations/{org}/workspaces":                                             "workspace.create",
	"PATCH /api/v1/organizations/{org}/workspaces/{workspace}":                                "workspace.update",
	"DELETE /api/v1/organizations/{org}/workspaces/{workspace}":                               "workspace.delete",
	"POST /api/v1/organizations/{org}/workspaces/{workspace}/members":                         "workspace.member.add",
	"DELETE /api/v1/organizations/{org}/workspaces/{workspace}/members/{user}":                "workspace.member.remove",
	"POST /api/v1/organizations/{org}/workspaces/{workspace}/projects":                        "project.create",
	"PATCH /api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}":             "project.update",
	"DELETE /api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}":            "project.delete",
	"POST /api/v1/organizations/{org}/workspaces/{workspace}/groups":                          "group.create",
	"PATCH /api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}":                 "group.update",
	"DELETE /api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}":                "group.delete",
	"POST /api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}/members":          "group.member.add",
	"DELETE /api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}/members/{user}": "group.member.remove",
	"POST /api/v1/organizations/{org}/workspaces/{workspace}/rolebindings":                    "rolebinding.create",
	"DELETE /api/v1/organizations/{org}/workspaces/{workspace}/rolebindings/{binding}":        "rolebinding.delete",
	"POST /api/v1/organizations/{org}/workspaces/{workspace}/token":                           "workspace.token.issue",
	"POST /auth/login":                "auth.login",
	"POST /auth/refresh":              "auth.refresh",
	"POST /auth/logout":               "auth.logout",
	"POST /auth/setup":                "auth.setup",
	"DELETE /auth/sessions/{session}": "auth.session.revoke",
	"POST /auth/sessions/revoke-all":  "auth.session.revoke_all",
	"POST /auth/login/mfa":            "auth.login.mfa",
	"POST /auth/2fa/enroll":           "auth.2fa.enroll",
	"POST /auth/2fa/verify":           "auth.2fa.enable",
	"POST /auth/2fa/disable":          "auth.2fa.disable",
	"POST /auth/2fa/backup-codes":     "auth.2fa.backup_codes.regenerate",
	"POST /auth/token":                "auth.token.issue",
	"POST /auth/device/code":          "auth.device.authorize",
}

// answersOrg lists routes whose success answer is an organization: their
// record belongs to that organization (creating one, joining one).
var answersOrg = map[string]bool{
	"POST /api/v1/organizations":      true,
	"POST /api/v1/invitations/accept": true,
}

// ActionLogin and ActionLoginFailed name a sign-in and a failed one.
const (
	ActionLogin       = "auth.login"
	ActionLoginFailed = "auth.login.failed"
)

// failedActions get their own action name when they do not succeed, so that
// failed sign-ins can be listed as such.
var failedActions = map[string]string{
	ActionLogin:      ActionLoginFailed,
	"auth.login.mfa": "auth.login.mfa.failed",
}

// ActionForResult returns the action recorded for action with result:
// "auth.login" that does not succeed is "auth.login.failed" (likewise the
// second factor), any other action is unchanged.
func ActionForResult(action, result string) string {
	if f, ok := failedActions[action]; ok && result != store.AuditSuccess {
		return f
	}
	return action
}

var segmentParam = regexp.MustCompile(`^\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}$`)

// ActionFor returns the audit action of a route: Route.Action if set, the
// name in this package's table, or one derived from the method and path:
// the path's literal segments (without /api/v1 and an organization prefix),
// singular, joined by dots, then a verb ("create" for a POST to a
// collection, "update" for PUT/PATCH, "delete" for DELETE), such as
// "backup.create" for POST /api/v1/organizations/{org}/backups or
// "auth.2fa.enable" for POST /auth/2fa/enable.
func ActionFor(rt httpapi.Route) string {
	if rt.Action != "" {
		return rt.Action
	}
	if a, ok := actions[rt.Method+" "+rt.Path]; ok {
		return a
	}
	return deriveAction(rt.Method, rt.Path)
}

func deriveAction(method, path string) string {
	path = strings.TrimPrefix(path, "/api/v1")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	// An organization prefix is context (the record's org), not the object.
	if len(segs) > 2 && segs[0] == "organizations" && segmentParam.MatchString(segs[1]) {
		segs = segs[2:]
	}
	var words []string
	endsInParam := false
	lastPlural := false
	for _, s := range segs {
		if s == "" {
			continue
		}
		if segmentParam.MatchString(s) {
			endsInParam = true
			continue
		}
		endsInParam = false
		w, plural := singular(strings.ToLower(strings.ReplaceAll(s, "-", "_")))
		lastPlural = plural
		words = append(words, w)
	}
	verb := ""
	switch method {
	case http.MethodPut, http.MethodPatch:
		verb = "update"
	case http.MethodDelete:
		verb = "delete"
	case http.MethodPost:
		if endsInParam || lastPlural {
			verb = "create"
		}
	default:
		verb = strings.ToLower(method)
	}
	if verb != "" {
		words = append(words, verb)
	}
	if len(words) == 0 {
		return "unknown"
	}
	return strings.Join(words, ".")
}

// singular strips an English plural "s" ("workspaces", "policies"),
// reporting whether it did.
func singular(w string) (string, bool) {
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 3:
		return w[:len(w)-3] + "y", true
	case strings.HasSuffix(w, "sses"):
		return w[:len(w)-2], true
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && len(w) > 1:
		return w[:len(w)-1], true
	}
	return w, false
}

// targetTypeBefore returns the object type a path parameter names: the
// singular of the literal segment before it ("workspaces/{workspace}" →
// "workspace"), or the parameter's name.
func paramTypes(path string) (names []string, types []string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		m := segmentParam.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		typ := m[1]
		if i > 0 && !segmentParam.MatchString(segs[i-1]) {
			typ, _ = singular(strings.ToLower(strings.ReplaceAll(segs[i-1], "-", "_")))
		}
		names = append(names, m[1])
		types = append(types, typ)
	}
	return names, types
}

// createdType is the type of the object a POST to a collection creates.
func createdType(method, path string) string {
	if method != http.MethodPost {
		return ""
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	last := segs[len(segs)-1]
	if segmentParam.MatchString(last) {
		return ""
	}
	w, plural := singular(strings.ToLower(strings.ReplaceAll(last, "-", "_")))
	if !plural {
		return ""
	}
	return w
}
