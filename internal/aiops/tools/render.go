package tools

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// noisy are the metadata fields a plan's diff leaves out: they change
// with every write and say nothing of what changes.
var noisy = []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"}

// clean prepares an object (decoded JSON) to be shown: no managedFields
// and no last-applied annotation, Secret values redacted; forDiff also
// removes the noisy metadata fields.
func clean(obj map[string]any, forDiff bool) {
	if obj == nil {
		return
	}
	redactValue(obj)
	md, _ := obj["metadata"].(map[string]any)
	if md == nil {
		return
	}
	delete(md, "managedFields")
	if ann, ok := md["annotations"].(map[string]any); ok {
		delete(ann, lastApplied)
		if len(ann) == 0 {
			delete(md, "annotations")
		}
	}
	if forDiff {
		for _, f := range noisy {
			delete(md, f)
		}
	}
}

// decodeObject decodes a JSON object (nil for none).
func decodeObject(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	return m, nil
}

// toYAML renders v as YAML ("" for nil).
func toYAML(v any) string {
	if v == nil {
		return ""
	}
	if m, ok := v.(map[string]any); ok && m == nil {
		return ""
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<cannot render: %v>", err)
	}
	return string(b)
}

// age is a duration as kubectl prints an age: 45s, 12m, 5h, 3d, 2y.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return fmt.Sprintf("%dy", int(d.Hours()/24/365))
}

// table renders rows (the first is the header) aligned in columns; a
// cell is one line of at most 200 characters.
func table(rows [][]string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			c = strings.Join(strings.Fields(c), " ")
			if len(c) > 200 {
				c = c[:200] + "…"
			}
			if c == "" {
				c = "-"
			}
			cells[i] = c
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	w.Flush()
	return b.String()
}

// str of a nested field of an object ("" when absent).
func field(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func fieldString(obj map[string]any, path ...string) string {
	s, _ := field(obj, path...).(string)
	return s
}
