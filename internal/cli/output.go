package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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

// printOne prints v, an answer of the API: json and yaml print it as the
// JSON it is (members sorted by name), a table the row view makes of it.
func printOne[T any](w io.Writer, format string, v T, cols []Column, view func(T) map[string]any) error {
	if format != "table" && format != "" {
		return printTree(w, format, v)
	}
	return Print(w, format, view(v), cols)
}

// printList is printOne of a list: a table has a row per element.
func printList[T any](w io.Writer, format string, vs []T, cols []Column, view func(T) map[string]any) error {
	if format != "table" && format != "" {
		return printTree(w, format, vs)
	}
	rows := make([]map[string]any, len(vs))
	for i, v := range vs {
		rows[i] = view(v)
	}
	return Print(w, format, rows, cols)
}

// printTree prints v in format as its JSON tree, whose objects print their
// members sorted by name.
func printTree(w io.Writer, format string, v any) error {
	var tree any
	if err := convert(v, &tree); err != nil {
		return err
	}
	return Print(w, format, tree, nil)
}

// yesNo is a boolean as yes or no.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// itoa is a whole number as text.
func itoa[N ~int | ~int32 | ~int64](n N) string { return strconv.FormatInt(int64(n), 10) }

// timeText is a time as JSON has it.
func timeText(t time.Time) string { return t.Format(time.RFC3339Nano) }
