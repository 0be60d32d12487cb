package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// Error turns an error of the workspace API server into the API's
// answer: its refusals (403, 404, 409, 422, 400) keep the cluster's own
// reason, which names the user, verb and resource, so a person can act on
// it; a cluster that cannot be reached is a 503; anything else is an
// internal error (logged, not shown).
func Error(err error) error {
	if err == nil {
		return nil
	}
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "cluster-unavailable", Title: "Cluster unavailable",
				Detail: "the workspace cluster did not answer in time", Cause: err}
		}
		if isConnErr(err) {
			return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "cluster-unavailable", Title: "Cluster unavailable",
				Detail: "the workspace cluster cannot be reached; it may be restarting", Cause: err}
		}
		return err
	}
	s := st.Status()
	msg := s.Message
	switch s.Reason {
	case metav1.StatusReasonForbidden:
		e := httpapi.Forbidden("the workspace cluster refused: " + msg)
		e.Cause = err
		return e
	case metav1.StatusReasonNotFound:
		e := &httpapi.Error{Status: http.StatusNotFound, Type: "not-found", Title: "Not found", Detail: msg, Cause: err}
		return e
	case metav1.StatusReasonAlreadyExists, metav1.StatusReasonConflict:
		e := httpapi.Conflict("", msg)
		e.Cause = err
		return e
	case metav1.StatusReasonInvalid:
		var fields []api.FieldError
		if s.Details != nil {
			for _, c := range s.Details.Causes {
				fields = append(fields, httpapi.Field(c.Field, c.Message))
			}
		}
		e := httpapi.Invalid(fields...)
		e.Detail = msg
		e.Cause = err
		return e
	case metav1.StatusReasonBadRequest:
		e := httpapi.BadRequest(msg)
		e.Cause = err
		return e
	case metav1.StatusReasonUnauthorized:
		// The platform's own client was refused: not the caller's fault.
		return fmt.Errorf("workspace cluster refused the platform's credentials: %w", err)
	case metav1.StatusReasonTimeout, metav1.StatusReasonServerTimeout, metav1.StatusReasonServiceUnavailable, metav1.StatusReasonTooManyRequests:
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "cluster-unavailable", Title: "Cluster unavailable",
			Detail: "the workspace cluster is busy: " + msg, Header: http.Header{"Retry-After": {"1"}}, Cause: err}
	}
	if s.Code >= 400 && s.Code < 500 && s.Code != http.StatusUnauthorized {
		return &httpapi.Error{Status: int(s.Code), Type: "cluster-refused", Title: "Refused by the workspace cluster", Detail: msg, Cause: err}
	}
	return err
}

// isConnErr reports whether err is a failure to reach the API server (a
// dial, a reset, a connection closed mid-answer) rather than its answer.
func isConnErr(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// PageError answers a continue token the cluster refuses (expired or
// not one of its own) as the bad cursor it is.
func PageError(err error) error {
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || apierrors.IsBadRequest(err) {
		e := httpapi.Invalid(httpapi.Field("cursor", "not a cursor of this list, or expired: start again without one"))
		e.Status = http.StatusBadRequest
		e.Cause = err
		return e
	}
	return Error(err)
}

// NotFoundOr is the 404 of what (an application, a cronjob) when err says
// the object is not there, else Error(err).
func NotFoundOr(err error, what string) error {
	if apierrors.IsNotFound(err) {
		return httpapi.NotFound(what)
	}
	return Error(err)
}
