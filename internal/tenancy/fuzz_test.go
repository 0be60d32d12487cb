package tenancy

import (
	"errors"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// FuzzCreateRequests drives the strict JSON decoder and the validation of
// every create request with arbitrary bodies: nothing may panic, and every
// refusal must be a client error (4xx) with a message.
func FuzzCreateRequests(f *testing.F) {
	for _, s := range []string{
		`{"name":"acme"}`, `{"name":"acme","slug":"acme","billing_email":"a@b.c"}`,
		`{"name":"web","plan":"dedicated"}`, `{"name":"frontend","quota":{"cpu":"500m","memory":"1Gi","pods":10}}`,
		`{"name":"devs","parent_id":"x"}`, `{"group_id":"g","role":"viewer"}`, `{"email":"x@y.z","role":"admin"}`,
		`{"name":`, `[]`, `null`, `{"name":"\u0000"}`, `{"quota":{"cpu":"1e3"}}`, `{"name":"a"}{"name":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			var e *httpapi.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Detail == "" {
				t.Fatalf("refusal is not a 4xx with detail: %#v", err)
			}
		}
		var org api.CreateOrganizationRequest
		if err := httpapi.DecodeJSONBytes(body, &org); err == nil {
			check(validateCreateOrg(&org))
		} else {
			check(err)
		}
		var ws api.CreateWorkspaceRequest
		if err := httpapi.DecodeJSONBytes(body, &ws); err == nil {
			check(collect(checkLabel("name", ws.Name)))
		} else {
			check(err)
		}
		var p api.CreateProjectRequest
		if err := httpapi.DecodeJSONBytes(body, &p); err == nil {
			check(collect(checkProjectName(p.Name)))
			check(checkQuota(p.Quota))
		} else {
			check(err)
		}
		var g api.CreateGroupRequest
		check(httpapi.DecodeJSONBytes(body, &g))
		var inv api.CreateInvitationRequest
		if err := httpapi.DecodeJSONBytes(body, &inv); err == nil {
			check(collect(checkEmail("email", inv.Email, true), checkOrgRole("role", inv.Role)))
		} else {
			check(err)
		}
		var rb api.CreateRoleBindingRequest
		check(httpapi.DecodeJSONBytes(body, &rb))
	})
}

func TestValidators(t *testing.T) {
	long := "a123456789012345678901234567890123456789012345678901234567890123"
	for _, tt := range []struct {
		name string
		fe   *api.FieldError
		bad  bool
	}{
		{"label ok", checkLabel("name", "frontend-1"), false},
		{"label upper", checkLabel("name", "Frontend"), true},
		{"label dash end", checkLabel("name", "front-"), true},
		{"label too long", checkLabel("name", long), true},
		{"label empty", checkLabel("name", ""), true},
		{"label injection", checkLabel("name", "a';drop table users;--"), true},
		{"project reserved", checkProjectName("kube-system"), true},
		{"project prefix", checkProjectName("hks-x"), true},
		{"display ok", checkDisplayName("name", "Acme, Inc. 株式会社"), false},
		{"display control", checkDisplayName("name", "a\x07b"), true},
		{"display space", checkDisplayName("name", " a"), true},
		{"email ok", checkEmail("email", "a@example.com", true), false},
		{"email display name", checkEmail("email", "A <a@example.com>", true), true},
		{"quantity ok", checkQuantity("cpu", "500m", cpuBound), false},
		{"quantity bin", checkQuantity("memory", "1.5Gi", memoryBound), false},
		{"quantity exp", checkQuantity("memory", "1e3", memoryBound), false},
		{"quantity bad", checkQuantity("memory", "lots", memoryBound), true},
		{"quantity negative", checkQuantity("cpu", "-1", cpuBound), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.fe != nil) != tt.bad {
				t.Errorf("%s: got %v, want bad=%v", tt.name, tt.fe, tt.bad)
			}
		})
	}
	if s := slugify("Acme, Inc. — Tokyo!"); s != "acme-inc-tokyo" {
		t.Errorf("slugify = %q", s)
	}
}
