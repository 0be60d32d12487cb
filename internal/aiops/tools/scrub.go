package tools

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// lastApplied is kubectl's annotation holding the whole object as applied
// (a Secret's values included).
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// What Scrub finds and removes.
var (
	// A PEM block, or what is left of one (a BEGIN line without its END).
	pemBlock = regexp.MustCompile(`-----BEGIN [^\n\r-]{0,64}-----(?s:.*?)(?:-----END [^\n\r-]{0,64}-----|$)`)
	// What is left of a PEM block whose BEGIN line is cut off (a log
	// tail that starts inside a key): the base64 lines up to its END
	// line, in text or in a JSON string (lines ending in \n).
	pemTail = regexp.MustCompile(`(?:[A-Za-z0-9+/=]+[ \t]*(?:\r?\n|\\(?:r\\)?n)[ \t]*)*-----END [^\n\r-]{0,64}-----`)
	// The password of a URL's userinfo (scheme://user:password@host).
	urlUserinfo = regexp.MustCompile(`(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@"'<>\\]*:)[^\s/@"'<>\\]+@`)
	// An environment variable, a flag or a query parameter set inline
	// (KEY=VALUE) whose key says it holds a secret.
	secretAssign = regexp.MustCompile(`(?i)(\b[A-Za-z0-9_.\-]*(?:pass|secret|token|apikey|api_key|api-key|credential)[A-Za-z0-9_.\-]*=)("[^"\n]*"|'[^'\n]*'|[^\s"',;&]+)`)
	// The base64 of a PEM block (certificate-authority-data, a Secret's
	// tls.crt read undecoded): base64 of "-----BEGIN".
	pemBase64 = regexp.MustCompile(`LS0tLS1CRUdJTi[A-Za-z0-9+/=]*`)
	// A JWT (service-account tokens, OIDC id and access tokens): header
	// and payload are base64url of JSON objects, so both start "eyJ".
	jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	// The credential of an Authorization header.
	bearer = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+|%20)[A-Za-z0-9._~+/=-]{6,}`)
	// Kubeconfig credentials and other fields that hold one, in YAML
	// (`token: x`), JSON (`"token":"x"`) or a flag (`token=x`).
	// A data or stringData map on a line: its values are checked after.
	jsonDataOpen = regexp.MustCompile(`\\?"(?:data|stringData)\\?"\s*:\s*\{`)
	anyBegin     = regexp.MustCompile(`(?i)-----BEGIN`)
	credField    = regexp.MustCompile(`(?i)(\\?"?\b(?:client-key-data|client-certificate-data|certificate-authority-data|client-key|client-secret|id-token|refresh-token|access-token|token|password|passwd)\\?"?[ \t]*[:=][ \t]*)(\\?["']?)([^\s"'\\,}{\]]+)(\\?["']?)`)
	// Well-known shapes of API keys.
	apiKeys = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,})`)
	// A line of YAML: its indentation, an optional list marker, a key and
	// what follows the colon.
	yamlKey = regexp.MustCompile(`^( *)(- )?("?[A-Za-z0-9_.\-/]+"?):(.*)$`)
	// An inline JSON map of data or stringData (a Secret's, in a JSON
	// document or a last-applied annotation in YAML).
	jsonData   = regexp.MustCompile(`(\\?"(?:data|stringData)\\?"\s*:\s*)\{([^{}]*)\}`)
	jsonMember = regexp.MustCompile(`(\\?"[^"\\]*(?:\\.[^"\\]*)*?\\?"\s*:\s*)\\?"(?:[^"\\]|\\[^"])*\\?"`)
	secretKind = regexp.MustCompile(`\\?"kind\\?"\s*:\s*\\?"Secret\\?"`)
)

// MaxScrubInput is the most of a text Scrub reads: the rest is cut, with
// Cap's mark, before scrubbing.
const MaxScrubInput = 1 << 20

// MaxArgs is the most of a tool call's arguments RedactArgs scrubs:
// larger arguments are rendered as {"_truncated":N}, their size in bytes.
const MaxArgs = 8 << 10

// Redaction marks.
const (
	redactedPEM   = "<redacted: PEM block>"
	redactedValue = "<redacted>"
)

// Scrub removes from text what must never leave the cluster through a
// tool: the values of Secrets (data and stringData, keys kept; in JSON or
// YAML, in Lists and in last-applied annotations), PEM blocks and their
// base64, JWTs, bearer and basic credentials, kubeconfig credentials
// (client-key-data, client-certificate-data, certificate-authority-data,
// token, …) and well-known API key shapes. It never fails: what it cannot
// parse it treats as text.
func Scrub(text string) string {
	if text == "" {
		return text
	}
	// What is past MaxScrubInput is cut first (no answer of a tool shows
	// that much, and the cost of scrubbing grows with the text); the mark
	// of the cut is added after.
	if len(text) > MaxScrubInput {
		head, mark := capSplit(text, MaxScrubInput)
		return Scrub(head) + mark
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		var v any
		dec := json.NewDecoder(strings.NewReader(t))
		dec.UseNumber()
		if dec.Decode(&v) == nil && !dec.More() {
			if redactValue(v) {
				text = marshalText(v)
			}
		}
	}
	text = scrubYAMLSecrets(text)
	text = scrubSecretEnv(text)
	text = scrubInlineJSONSecrets(text)
	text = pemBlock.ReplaceAllString(text, redactedPEM)
	text = pemTail.ReplaceAllString(text, redactedPEM)
	text = urlUserinfo.ReplaceAllString(text, "${1}"+redactedValue+"@")
	text = replaceSubmatches(secretAssign, text, func(sub []string) string {
		if strings.HasPrefix(strings.Trim(sub[2], `"'`), "<redacted") {
			return sub[0]
		}
		return sub[1] + redactedValue
	})
	text = pemBase64.ReplaceAllString(text, "<redacted: base64 PEM block>")
	text = jwt.ReplaceAllString(text, "<redacted: token>")
	text = bearer.ReplaceAllString(text, "$1 "+redactedValue)
	text = replaceSubmatches(credField, text, func(sub []string) string {
		if strings.HasPrefix(sub[3], "<redacted") || sub[3] == "|" || sub[3] == ">" || sub[3] == "|-" || sub[3] == ">-" {
			return sub[0]
		}
		return sub[1] + sub[2] + redactedValue + sub[4]
	})
	text = apiKeys.ReplaceAllString(text, "<redacted: key>")
	// Whatever is left of a PEM header (a BEGIN line the patterns above
	// did not take whole) goes too.
	return anyBegin.ReplaceAllString(text, redactedPEM)
}

// ScrubData is Scrub for a structured answer (a Result's Data): v as
// JSON values (maps, slices, strings, json.Number, bools) with every
// Secret redacted and every string scrubbed; nil when v cannot be
// encoded.
func ScrubData(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&out) != nil {
		return nil
	}
	redactValue(out)
	return scrubStrings(out)
}

func scrubStrings(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = scrubStrings(val)
		}
	case []any:
		for i, val := range x {
			x[i] = scrubStrings(val)
		}
	case string:
		return Scrub(x)
	}
	return v
}

// marshalText is v as compact JSON without HTML escapes (a redaction
// mark reads as it is).
func marshalText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// redactValue redacts, in a decoded JSON value, every Secret's values
// (any depth: Lists, Tables, events' objects) and the last-applied
// annotations of any object, and reports whether it changed anything.
func redactValue(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if isSecret(x) {
			for _, field := range []string{"data", "stringData"} {
				if m, ok := x[field].(map[string]any); ok {
					for k, val := range m {
						s, _ := val.(string)
						if !strings.HasPrefix(s, "<redacted") {
							m[k] = redactedSize(s, field == "data")
							changed = true
						}
					}
				}
			}
		}
		// An environment variable whose name says it holds a secret.
		if name, ok := x["name"].(string); ok && sensitiveKey(name) {
			if val, ok := x["value"].(string); ok && !strings.HasPrefix(val, "<redacted") {
				x["value"] = redactedValue
				changed = true
			}
		}
		if md, ok := x["metadata"].(map[string]any); ok {
			if ann, ok := md["annotations"].(map[string]any); ok {
				if la, ok := ann[lastApplied].(string); ok {
					var inner any
					if json.Unmarshal([]byte(la), &inner) == nil {
						if redactValue(inner) {
							if b, err := json.Marshal(inner); err == nil {
								ann[lastApplied] = string(b)
								changed = true
							}
						}
					} else {
						ann[lastApplied] = redactedValue
						changed = true
					}
				}
			}
		}
		for _, val := range x {
			if redactValue(val) {
				changed = true
			}
		}
	case []any:
		for _, val := range x {
			if redactValue(val) {
				changed = true
			}
		}
	}
	return changed
}

func isSecret(m map[string]any) bool {
	kind, _ := m["kind"].(string)
	api, _ := m["apiVersion"].(string)
	return kind == "Secret" && (api == "v1" || api == "")
}

// redactedSize is the mark of a Secret value: its size, decoded when it
// is base64 (data), never its content.
func redactedSize(s string, b64 bool) string {
	n := len(s)
	if b64 {
		if d, err := base64.StdEncoding.DecodeString(s); err == nil {
			n = len(d)
		}
	}
	return fmt.Sprintf("<redacted: %d bytes>", n)
}

// scrubYAMLSecrets redacts, in YAML text, the values under the data and
// stringData keys of every mapping that also says kind: Secret (sibling
// keys: at the same indentation, before or after, as sigs.k8s.io/yaml
// sorts data before kind). It reads every line a bounded number of
// times: a first pass tells, with a stack of the mappings open at each
// indentation, which mapping every key is in and which mappings are
// Secrets; a second redacts.
func scrubYAMLSecrets(text string) string {
	if !strings.Contains(text, "Secret") {
		return text
	}
	lines := strings.Split(text, "\n")
	type key struct {
		indent int // the column of the key
		item   bool
		name   string
		rest   string
	}
	parse := func(l string) (key, bool) {
		m := yamlKey.FindStringSubmatch(strings.TrimRight(l, "\r"))
		if m == nil {
			return key{}, false
		}
		return key{indent: len(m[1]) + len(m[2]), item: m[2] != "", name: strings.Trim(m[3], `"`), rest: strings.TrimSpace(m[4])}, true
	}
	indentOf := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	skip := func(l string) bool {
		t := strings.TrimSpace(l)
		return t == "" || strings.HasPrefix(t, "#")
	}
	// First pass: the mapping of every data or stringData key without an
	// inline value, and whether each mapping says kind: Secret.
	type open struct{ col, id int }
	var stack []open
	var secret []bool         // by mapping id
	dataKeys := map[int]int{} // line → mapping id
	for i, l := range lines {
		if skip(l) {
			continue
		}
		if strings.HasPrefix(l, "---") {
			stack = stack[:0]
			continue
		}
		k, ok := parse(l)
		if !ok {
			// Text: a block scalar's lines, a list of scalars, a flow
			// collection: it closes the mappings indented deeper.
			col := indentOf(l)
			for len(stack) > 0 && stack[len(stack)-1].col > col {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		for len(stack) > 0 && (stack[len(stack)-1].col > k.indent || (k.item && stack[len(stack)-1].col == k.indent)) {
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 || stack[len(stack)-1].col < k.indent {
			stack = append(stack, open{col: k.indent, id: len(secret)})
			secret = append(secret, false)
		}
		id := stack[len(stack)-1].id
		switch {
		case k.name == "kind" && strings.Trim(k.rest, `"'`) == "Secret":
			secret[id] = true
		case (k.name == "data" || k.name == "stringData") && k.rest == "":
			dataKeys[i] = id
		}
	}
	// Second pass: the children of the data keys of Secrets.
	var out []string
	for i := 0; i < len(lines); i++ {
		id, ok := dataKeys[i]
		out = append(out, lines[i])
		if !ok || !secret[id] {
			continue
		}
		k, _ := parse(lines[i])
		// The children: lines more indented than the key.
		j := i + 1
		for ; j < len(lines); j++ {
			l := lines[j]
			if strings.TrimSpace(l) == "" {
				continue
			}
			if indentOf(l) <= k.indent {
				break
			}
			c, ok := parse(l)
			if !ok || c.item {
				continue // a continuation of a block scalar: dropped
			}
			v := strings.Trim(c.rest, `"'`)
			if strings.HasPrefix(v, "<redacted") {
				out = append(out, l)
				continue
			}
			if v == "|" || v == ">" || v == "|-" || v == ">-" {
				v = ""
			}
			out = append(out, strings.Repeat(" ", c.indent)+c.name+": '"+redactedSize(v, k.name == "data")+"'")
		}
		i = j - 1
	}
	return strings.Join(out, "\n")
}

// An environment variable in YAML (`- name: X` then `value: Y` at the
// same indentation) or JSON ({"name":"X","value":"Y"}).
var (
	envNameYAML  = regexp.MustCompile(`^( *)- name: ["']?([A-Za-z0-9_.\-]+)["']?\s*$`)
	envValueYAML = regexp.MustCompile(`^( *)value: (.*)$`)
	envJSON      = regexp.MustCompile(`(\\?"name\\?"\s*:\s*\\?"([A-Za-z0-9_.\-]+)\\?"\s*,\s*\\?"value\\?"\s*:\s*)(\\?"(?:[^"\\]|\\[^"])*\\?")`)
	// The same with the value first.
	envJSONValueFirst = regexp.MustCompile(`(\\?"value\\?"\s*:\s*)(\\?"(?:[^"\\]|\\[^"])*\\?")(\s*,\s*\\?"name\\?"\s*:\s*\\?"([A-Za-z0-9_.\-]+)\\?")`)
	envValueItemYAML  = regexp.MustCompile(`^( *)- value: (.*)$`)
	envNameKeyYAML    = regexp.MustCompile(`^( *)name: ["']?([A-Za-z0-9_.\-]+)["']?\s*$`)
)

// scrubSecretEnv redacts the values of environment variables whose name
// says they hold a secret (DB_PASSWORD, API_TOKEN, AWS_SECRET_ACCESS_KEY,
// …; sensitiveKey): set in plain text in a pod template, they are a
// secret all the same.
func scrubSecretEnv(text string) string {
	if !strings.Contains(text, "name") {
		return text
	}
	lines := strings.Split(text, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if v := envValueItemYAML.FindStringSubmatch(lines[i]); v != nil && !strings.Contains(v[2], "<redacted") {
			// The value first: the name is a sibling key after it.
			for j := i + 1; j < len(lines) && j <= i+4; j++ {
				n := envNameKeyYAML.FindStringSubmatch(lines[j])
				if n != nil && len(n[1]) == len(v[1])+2 {
					if sensitiveKey(n[2]) {
						lines[i] = v[1] + "- value: " + redactedValue
					}
					break
				}
				if strings.TrimSpace(lines[j]) == "" || len(lines[j])-len(strings.TrimLeft(lines[j], " ")) <= len(v[1]) {
					break
				}
			}
			continue
		}
		m := envNameYAML.FindStringSubmatch(lines[i])
		if m == nil || !sensitiveKey(m[2]) {
			continue
		}
		// The value is a sibling key of the item: indented past "- ".
		for j := i + 1; j < len(lines) && j <= i+4; j++ {
			v := envValueYAML.FindStringSubmatch(lines[j])
			if v != nil && len(v[1]) == len(m[1])+2 {
				if !strings.Contains(v[2], "<redacted") {
					lines[j] = v[1] + "value: " + redactedValue
				}
				break
			}
			if strings.TrimSpace(lines[j]) == "" || len(lines[j])-len(strings.TrimLeft(lines[j], " ")) <= len(m[1]) {
				break
			}
		}
	}
	text = strings.Join(lines, "\n")
	text = replaceSubmatches(envJSON, text, func(sub []string) string {
		if !sensitiveKey(sub[2]) || strings.Contains(sub[3], "redacted") {
			return sub[0]
		}
		q := `"`
		if strings.HasPrefix(sub[3], `\"`) {
			q = `\"`
		}
		return sub[1] + q + redactedValue + q
	})
	return replaceSubmatches(envJSONValueFirst, text, func(sub []string) string {
		if !sensitiveKey(sub[4]) || strings.Contains(sub[2], "redacted") {
			return sub[0]
		}
		q := `"`
		if strings.HasPrefix(sub[2], `\"`) {
			q = `\"`
		}
		return sub[1] + q + redactedValue + q + sub[3]
	})
}

// scrubInlineJSONSecrets redacts the values of data and stringData maps
// on every line that names kind Secret in JSON (a JSON document on one
// line, a last-applied annotation shown in YAML, a log line).
func scrubInlineJSONSecrets(text string) string {
	if !secretKind.MatchString(text) {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !secretKind.MatchString(l) {
			continue
		}
		red := replaceSubmatches(jsonData, l, func(sub []string) string {
			q := `"`
			if strings.Contains(sub[1], `\"`) {
				q = `\"`
			}
			body := replaceSubmatches(jsonMember, sub[2], func(mem []string) string {
				if strings.Contains(mem[0], "redacted") {
					return mem[0]
				}
				return mem[1] + q + redactedValue + q
			})
			return sub[1] + "{" + body + "}"
		})
		// A map the pattern could not take (a value with braces): the
		// whole line goes.
		if len(jsonDataOpen.FindAllStringIndex(red, -1)) > len(jsonData.FindAllStringIndex(red, -1)) {
			red = strings.Repeat(" ", len(l)-len(strings.TrimLeft(l, " "))) + "<redacted: a line of a Secret>"
		}
		lines[i] = red
	}
	return strings.Join(lines, "\n")
}

// replaceSubmatches replaces every match of re in s with what f makes
// of its submatches (found in s, not in the match alone).
func replaceSubmatches(re *regexp.Regexp, s string, f func(sub []string) string) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		sub := make([]string, len(m)/2)
		for i := range sub {
			if m[2*i] >= 0 {
				sub[i] = s[m[2*i]:m[2*i+1]]
			}
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(f(sub))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// Cap cuts text to at most max bytes (at a line end when one is near,
// never inside a UTF-8 sequence) with a visible mark of what was cut.
func Cap(text string, max int) string {
	if max <= 0 || len(text) <= max {
		return text
	}
	head, mark := capSplit(text, max)
	return head + mark
}

// capSplit is Cap's cut of a text longer than max: what is kept and the
// mark of what is not.
func capSplit(text string, max int) (head, mark string) {
	cut := max
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	if nl := strings.LastIndexByte(text[:cut], '\n'); nl > cut*3/4 {
		cut = nl + 1
	}
	return text[:cut], fmt.Sprintf("\n[truncated: %d more bytes]", len(text)-cut)
}

// sensitiveWords are the words of an argument's key whose value is kept
// out of the audit log.
var sensitiveWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "token": true, "secret": true, "secrets": true,
	"key": true, "keys": true, "apikey": true, "data": true, "stringdata": true, "credential": true,
	"credentials": true, "auth": true, "authorization": true, "cert": true, "certificate": true,
	"kubeconfig": true, "privatekey": true, "bearer": true, "cookie": true,
}

// RedactArgs renders a tool call's arguments for the audit log: compact
// JSON with the values of keys that name a secret (password, token,
// secret, key, data, …, as words of the key in snake_case, kebab-case or
// camelCase) redacted and every string scrubbed. Arguments that are not
// JSON are scrubbed as text, at most 4 KiB. Arguments larger than MaxArgs
// are not read at all: they come out as {"_truncated":N}, N their size.
func RedactArgs(args json.RawMessage) string {
	const max = 4 << 10
	if len(bytes.TrimSpace(args)) == 0 {
		return "{}"
	}
	if len(args) > MaxArgs {
		return fmt.Sprintf(`{"_truncated":%d}`, len(args))
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return Cap(Scrub(string(args)), max)
	}
	return Cap(marshalText(redactArgs(v)), max)
}

func redactArgs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if sensitiveKey(k) {
				x[k] = redactedValue
				continue
			}
			x[k] = redactArgs(val)
		}
		return x
	case []any:
		for i, val := range x {
			x[i] = redactArgs(val)
		}
		return x
	case string:
		return Scrub(x)
	}
	return v
}

// sensitiveKey tells whether a key names a secret: one of its words
// (split at '_', '-', '.', ' ' and lower-to-upper case changes) or the
// whole key lowercased is a sensitive word.
func sensitiveKey(k string) bool {
	if sensitiveWords[strings.ToLower(k)] {
		return true
	}
	var words []string
	var cur []rune
	prevLower := false
	for _, r := range k {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ':
			words = append(words, string(cur))
			cur, prevLower = nil, false
		case unicode.IsUpper(r) && prevLower:
			words = append(words, string(cur))
			cur, prevLower = []rune{unicode.ToLower(r)}, false
		default:
			cur = append(cur, unicode.ToLower(r))
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		}
	}
	words = append(words, string(cur))
	for _, w := range words {
		if sensitiveWords[w] {
			return true
		}
	}
	return false
}
