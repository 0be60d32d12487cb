package identity

import "errors"

var (
	// ErrInvalidCredentials: unknown email, wrong password, or a user
	// without a local password. Deliberately not more specific.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrInvalidToken: an access or refresh token failed verification for
	// any reason (malformed, bad signature, unknown key, expired, wrong
	// issuer or audience, spent, unknown session). Errors for revoked
	// sessions match both ErrInvalidToken and ErrSessionRevoked.
	ErrInvalidToken = errors.New("invalid token")
	// ErrSessionRevoked: the token's session was revoked (logout, or reuse
	// of a spent refresh token).
	ErrSessionRevoked = errors.New("session revoked")
	// ErrSetupDone: first-run setup is no longer possible because a user
	// exists or the setup token was consumed.
	ErrSetupDone = errors.New("setup already done")
	// ErrInvalidSetupToken: the setup token does not match.
	ErrInvalidSetupToken = errors.New("invalid setup token")
	// ErrMalformedHash: a stored password hash is not a PHC argon2id
	// string this package can verify.
	ErrMalformedHash = errors.New("malformed password hash")
)

// FieldError is a validation failure of one named input field ("email",
// "password"). Message is safe to show to the client.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
