package aiops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// maskPrefix starts every mask: "name-" and eight hex digits.
const (
	maskPrefix = "name-"
	maskLen    = len(maskPrefix) + 8
)

// namedField finds the values of the fields that name things in what the
// tools return (YAML, tables, JSON): names, namespaces, owners, images are
// kept (they say what runs, not whose it is).
var namedField = regexp.MustCompile(`(?m)("?(?:name|namespace|generateName|serviceName|claimName|secretName|configMapName|app|pod|node|host|object|involvedObject)"?\s*[:=]\s*"?)([A-Za-z0-9][A-Za-z0-9._-]{1,252})`)

// kindName finds objects named after their kind, as findings and events
// name them ("Deployment shop/web", "pod/web-7c9d", "Pods web-1, web-2").
var kindName = regexp.MustCompile(`(?i)\b(?:pods?|deployments?|deploy|replicasets?|rs|statefulsets?|sts|daemonsets?|ds|jobs?|cronjobs?|cj|services?|svc|ingress(?:es)?|ing|configmaps?|cm|secrets?|persistentvolumeclaims?|pvc|horizontalpodautoscalers?|hpa|resourcequotas?|quota|limitranges?|nodes?|namespaces?|ns|serviceaccounts?|sa)(?:\s+|/)([a-z0-9][a-z0-9.-]*(?:/[a-z0-9][a-z0-9.-]*)?)`)

// email finds email addresses (users, owners in annotations).
var email = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)

// tableHeader is the header of a table the tools print (columns set apart
// by two spaces or more); its NAME-like columns hold names.
var tableColumns = regexp.MustCompile(`\s{2,}`)

// nameColumns are the columns of a table whose cells are names.
var nameColumns = map[string]bool{"NAME": true, "NAMESPACE": true, "OBJECT": true, "POD": true, "NODE": true, "PROJECT": true, "INVOLVED OBJECT": true}

// masker masks the names of a chat's workspace, projects and objects in
// what goes to an external model, and unmasks them in what comes back, the
// same name always to the same mask within a chat.
type masker struct {
	key     []byte
	toMask  map[string]string
	toName  map[string]string
	pending string // a streamed tail that may be the start of a mask
	emit    func(string)
}

// newMasker makes the masks of a chat with key, the server's secret (so
// that nobody outside can tell a name from its mask).
func newMasker(key []byte, chatID string, sc tenancy.WorkspaceScope) *masker {
	m := &masker{key: append(append([]byte{}, key...), chatID...), toMask: map[string]string{}, toName: map[string]string{}}
	m.add(sc.Org.Slug)
	m.add(sc.Org.Name)
	m.add(sc.Workspace.Name)
	m.add(sc.Principal.Email)
	for _, p := range sc.Projects {
		m.add(p.Name)
	}
	return m
}

// add learns a name to mask (short names are left: masking "a" would mask
// every "a").
func (m *masker) add(name string) {
	if len(name) < 3 || strings.HasPrefix(name, maskPrefix) {
		return
	}
	if _, ok := m.toMask[name]; ok {
		return
	}
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(name))
	mask := maskPrefix + hex.EncodeToString(mac.Sum(nil))[:8]
	m.toMask[name], m.toName[mask] = mask, name
}

// learn adds the names s gives: fields that name things, objects named
// after their kind, emails, and the name columns of tables.
func (m *masker) learn(s string) {
	for _, sm := range namedField.FindAllStringSubmatch(s, -1) {
		m.add(sm[2])
	}
	for _, sm := range kindName.FindAllStringSubmatch(s, -1) {
		for _, part := range strings.Split(sm[1], "/") {
			m.add(part)
		}
	}
	for _, e := range email.FindAllString(s, -1) {
		m.add(e)
	}
	var cols []int // the name columns of the table being read
	for _, line := range strings.Split(s, "\n") {
		cells := tableColumns.Split(strings.TrimSpace(line), -1)
		if strings.TrimSpace(line) == "" {
			cols = nil
			continue
		}
		if header := nameColumnsOf(cells); header != nil {
			cols = header
			continue
		}
		for _, i := range cols {
			if i < len(cells) {
				for _, part := range strings.Split(cells[i], "/") {
					m.add(part)
				}
			}
		}
	}
}

// nameColumnsOf answers the name columns of a table's header line (nil
// when the line is not one: every cell upper case, one of them a name).
func nameColumnsOf(cells []string) []int {
	if len(cells) < 2 {
		return nil
	}
	var out []int
	for i, c := range cells {
		if c != strings.ToUpper(c) || strings.ContainsAny(c, "0123456789") {
			return nil
		}
		if nameColumns[c] {
			out = append(out, i)
		}
	}
	return out
}

// mask replaces every known name in s, and learns the names s gives.
func (m *masker) mask(s string) string {
	m.learn(s)
	if len(m.toMask) == 0 {
		return s
	}
	// Longest first, so that "web-1" is not masked as "web" + "-1".
	names := make([]string, 0, len(m.toMask))
	for n := range m.toMask {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return len(names[i]) > len(names[j]) || len(names[i]) == len(names[j]) && names[i] < names[j]
	})
	pairs := make([]string, 0, 2*len(names))
	for _, n := range names {
		pairs = append(pairs, n, m.toMask[n])
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// messages masks what a model call sends.
func (m *masker) messages(ms []llm.Message) []llm.Message {
	out := make([]llm.Message, len(ms))
	for i, msg := range ms {
		msg.Content = m.mask(msg.Content)
		if len(msg.ToolCalls) > 0 {
			cs := make([]llm.ToolCall, len(msg.ToolCalls))
			for j, c := range msg.ToolCalls {
				c.Arguments = m.mask(c.Arguments)
				cs[j] = c
			}
			msg.ToolCalls = cs
		}
		out[i] = msg
	}
	return out
}

// unmask puts the names back.
func (m *masker) unmask(s string) string {
	if !strings.Contains(s, maskPrefix) {
		return s
	}
	pairs := make([]string, 0, 2*len(m.toName))
	for mask, n := range m.toName {
		pairs = append(pairs, mask, n)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// stream unmasks streamed text: a tail that may be the start of a mask is
// held until the next piece (or flush) says what it is.
func (m *masker) stream(emit func(string)) func(string) {
	m.emit = emit
	return func(d string) {
		s := m.pending + d
		m.pending = ""
		cut := len(s)
		if i := strings.LastIndex(s, "n"); i >= 0 && strings.HasPrefix(maskPrefix, s[i:]) {
			cut = i
		} else if i := strings.LastIndex(s, maskPrefix); i >= 0 && len(s)-i < maskLen {
			cut = i
		}
		m.pending = s[cut:]
		if out := m.unmask(s[:cut]); out != "" {
			emit(out)
		}
	}
}

// flush sends what stream held back.
func (m *masker) flush() {
	if m.pending != "" && m.emit != nil {
		m.emit(m.unmask(m.pending))
	}
	m.pending = ""
}
