package llm

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// ProviderError is a failure of the model provider. Its text names the
// provider and the HTTP status and never holds the API key, the
// Authorization header or the provider's address.
type ProviderError struct {
	// Provider is the provider's Name.
	Provider string
	// Status is the HTTP status the provider answered with; 0 when it gave
	// none: unreachable, timed out, or a stream that broke or was malformed.
	Status int
	// Message says what went wrong in words a user can be shown,
	// including the provider's own explanation, API key removed.
	Message string
	// cause is the transport or decoding error, for logs and errors.Is
	// (context.DeadlineExceeded when Provider.Timeout passed); never an
	// API error, whose request holds the Authorization header.
	cause error
}

func (e *ProviderError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("model provider %q: HTTP %d: %s", e.Provider, e.Status, e.Message)
	}
	return fmt.Sprintf("model provider %q: %s", e.Provider, e.Message)
}

// Unwrap returns the transport or decoding error, if any.
func (e *ProviderError) Unwrap() error { return e.cause }

// errTimeout is the cause of a completion cut by Provider.Timeout.
var errTimeout = errors.New("provider timeout")

func (c *Client) errorf(status int, cause error, format string, args ...any) *ProviderError {
	return &ProviderError{Provider: c.p.Name, Status: status, Message: c.redact(fmt.Sprintf(format, args...)), cause: cause}
}

// failure maps the error a stream ended with. parent is the caller's
// context, ctx the one bounded by Provider.Timeout, resp the provider's
// answer if one came.
func (c *Client) failure(parent, ctx context.Context, err error, resp *http.Response) error {
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("stream chat completion: %w", perr)
	}
	if errors.Is(context.Cause(ctx), errTimeout) {
		return c.errorf(0, fmt.Errorf("%w after %s", context.DeadlineExceeded, c.p.Timeout),
			"the model provider did not finish its answer within %s", c.p.Timeout)
	}
	var apiErr *openai.Error
	status := 0
	if errors.As(err, &apiErr) {
		status = apiErr.StatusCode
	}
	if resp != nil && resp.StatusCode >= 400 {
		status = resp.StatusCode
	}
	if status >= 400 {
		detail := providerMessage(resp)
		if detail == "" && apiErr != nil {
			detail = apiErr.Message
		}
		return c.statusError(status, detail)
	}
	var streamErr *ssestream.StreamError
	if errors.As(err, &streamErr) {
		detail := errorMessage(streamErr.Event.Data)
		if detail == "" {
			return c.errorf(0, nil, "the model provider reported an error during the answer")
		}
		return c.errorf(0, nil, "the model provider reported an error during the answer: %s", clean(detail))
	}
	if resp == nil {
		return c.errorf(0, err, "cannot reach the model provider (%s)", netReason(err))
	}
	if isNetError(err) {
		return c.errorf(0, err, "the connection to the model provider broke during the answer (%s)", netReason(err))
	}
	return c.errorf(0, err, "the model provider sent a malformed stream")
}

// statusError words an HTTP error of the provider.
func (c *Client) statusError(status int, detail string) *ProviderError {
	var what string
	switch {
	case status == http.StatusUnauthorized:
		what = "the model provider refused the API key"
	case status == http.StatusForbidden:
		what = "the model provider denied access"
	case status == http.StatusNotFound:
		what = fmt.Sprintf("the model provider does not know the model %q (or has no chat completions at its base URL)", c.p.Model)
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		what = "the model provider timed out"
	case status == http.StatusRequestEntityTooLarge:
		what = "the conversation is too large for the model provider"
	case status == http.StatusTooManyRequests:
		what = "the model provider is limiting requests or its quota is used up"
	case status >= 500:
		what = "the model provider failed"
	default:
		what = "the model provider refused the request"
	}
	if detail = clean(detail); detail != "" {
		what += ": " + detail
	}
	return c.errorf(status, nil, "%s", what)
}

// maxDetail bounds the provider's own explanation in a Message, in runes.
const maxDetail = 300

// clean makes a provider's text fit in one line of a message.
func clean(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if utf8.RuneCountInString(s) > maxDetail {
		s = string([]rune(s)[:maxDetail]) + "…"
	}
	return s
}

// secretLike finds what looks like a credential in a provider's text: a
// bearer token or an OpenAI-style key (OpenAI echoes part of a wrong key).
var secretLike = regexp.MustCompile(`(?i)\bbearer\s+\S+|\bsk-[A-Za-z0-9_*.\-]{3,}`)

// redact removes the API key, and anything shaped like one, from s.
func (c *Client) redact(s string) string {
	if c.p.APIKey != "" {
		s = strings.ReplaceAll(s, c.p.APIKey, "[redacted]")
	}
	return secretLike.ReplaceAllString(s, "[redacted]")
}

// maxErrorBody bounds the error body read for its message.
const maxErrorBody = 64 << 10

// providerMessage reads the explanation in an error answer: OpenAI's
// {"error": {"message": …}}, {"error": "…"} (Ollama), {"detail": …} or
// {"message": …}, or a short plain-text body.
func providerMessage(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if m := errorMessage(b); m != "" {
		return m
	}
	if ct := contentType(resp); ct == "text/plain" && utf8.Valid(b) {
		return string(b)
	}
	return ""
}

// errorMessage finds the message in a JSON error object.
func errorMessage(b []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Detail  any             `json:"detail"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Error, &s) == nil && s != "" {
		return s
	}
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(v.Error, &e) == nil && e.Message != "" {
		return e.Message
	}
	if d, ok := v.Detail.(string); ok && d != "" {
		return d
	}
	return v.Message
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// netReason words a transport error without the provider's address.
func netReason(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		ne      net.Error
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		return "its host name does not resolve"
	case errors.As(err, &certErr):
		return "its TLS certificate is not trusted"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "the connection closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	return "network error"
}
