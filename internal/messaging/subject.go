package messaging

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidToken is returned for a subject token or path that the platform
// refuses to put into a NATS subject.
var ErrInvalidToken = errors.New("invalid subject token")

// MaxTokenLen bounds a single subject token.
const MaxTokenLen = 128

// ValidToken reports whether s may be used as one token of a NATS subject
// (an org id, a task id). Only ASCII letters, digits, '-' and '_' are
// allowed, which excludes the separator '.', the wildcards '*' and '>',
// whitespace and control characters.
func ValidToken(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if len(s) > MaxTokenLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return fmt.Errorf("%w: %q contains %q", ErrInvalidToken, s, s[i])
		}
	}
	return nil
}

// ValidPath reports whether s is a non-empty sequence of valid tokens
// separated by single dots (an event type such as "workspace.status", a
// task kind such as "workspace.provision").
func ValidPath(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	for tok := range strings.SplitSeq(s, ".") {
		if err := ValidToken(tok); err != nil {
			return fmt.Errorf("%w (in %q)", err, s)
		}
	}
	return nil
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
