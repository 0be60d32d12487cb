package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Column is one column of table output: a header and a JSON field.
type Column struct{ Header, Field string }

// validOutput checks a -o value.
func validOutput(format string) error {
	switch format {
	case "json", "yaml", "table", "":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use json, yaml or table", format)
}

// Print writes v (a JSON object or a list of them) in format.
func Print(w io.Writer, format string, v any, cols []Column) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	case "table", "":
		rows, err := tableRows(v)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		hs := make([]string, len(cols))
		for i, c := range cols {
			hs[i] = c.Header
		}
		fmt.Fprintln(tw, strings.Join(hs, "\t"))
		for _, r := range rows {
			vals := make([]string, len(cols))
			for i, c := range cols {
				vals[i] = cell(r, c.Field)
			}
			fmt.Fprintln(tw, strings.Join(vals, "\t"))
		}
		return tw.Flush()
	}
	return validOutput(format)
}

// tableRows is v as rows of JSON fields: a list is a row per element,
// anything else one row.
func tableRows(v any) ([]map[string]any, error) {
	switch x := v.(type) {
	case []map[string]any:
		return x, nil
	case map[string]any:
		return []map[string]any{x}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var rows []map[string]any
	if json.Unmarshal(b, &rows) == nil {
		return rows, nil
	}
	var row map[string]any
	if err := json.Unmarshal(b, &row); err != nil {
		return nil, fmt.Errorf("print a table of %T: %w", v, err)
	}
	return []map[string]any{row}, nil
}

// cell reads a possibly dotted field ("quota.cpu") as text.
func cell(m map[string]any, field string) string {
	var v any = m
	for _, part := range strings.Split(field, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[part]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprintf("%g", x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// PrintView is Print whose table rows first go through view, which adds
// computed columns ("2/3" ready); json and yaml print v as the API
// answered it.
func PrintView(w io.Writer, format string, v any, cols []Column, view func(map[string]any) map[string]any) error {
	if view == nil || (format != "table" && format != "") {
		return Print(w, format, v, cols)
	}
	switch x := v.(type) {
	case []map[string]any:
		rows := make([]map[string]any, len(x))
		for i, r := range x {
			rows[i] = view(r)
		}
		return Print(w, format, rows, cols)
	case map[string]any:
		return Print(w, format, view(x), cols)
	}
	return Print(w, format, v, cols)
}

// yesNo is a JSON boolean as yes or no.
func yesNo(v any) string {
	if b, _ := v.(bool); b {
		return "yes"
	}
	return "no"
}
