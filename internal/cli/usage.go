package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/spf13/cobra"
)

// usageCmd is `hks project usage` and `hks workspace usage`: quota used
// against hard and counts of workloads (a workspace's sums those of the
// projects the caller may see, then lists them).
func usageCmd(o *Options, what string, base func(context.Context, *Client) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use: "usage ID|NAME", Short: "Show a " + what + "'s quota use (used against hard) and counts of its workloads", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := NewClient(o.Server)
			if err != nil {
				return err
			}
			b, err := base(ctx, c)
			if err != nil {
				return err
			}
			id, err := resolve(ctx, c, b, args[0], what, "name")
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.Do(ctx, http.MethodGet, b+"/"+id+"/usage", nil, &out); err != nil {
				return err
			}
			if o.Output != "table" && o.Output != "" {
				return Print(cmd.OutOrStdout(), o.Output, out, nil)
			}
			printUsage(cmd.OutOrStdout(), out)
			return nil
		},
	}
}

var countCols = []Column{{"APPLICATIONS", "applications"}, {"PODS", "pods"}, {"RUNNING", "running_pods"}, {"CRONJOBS", "cronjobs"}, {"JOBS", "jobs"}, {"SERVICES", "services"}}

func printUsage(w io.Writer, u map[string]any) {
	quota, _ := u["quota"].(map[string]any)
	rows := []map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(quota)) {
		q, _ := quota[name].(map[string]any)
		hard := cell(q, "hard")
		if hard == "" {
			hard = "no limit"
		}
		rows = append(rows, map[string]any{"resource": name, "used": q["used"], "hard": hard})
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No quota.")
	} else {
		_ = Print(w, "table", rows, []Column{{"RESOURCE", "resource"}, {"USED", "used"}, {"HARD", "hard"}})
	}
	fmt.Fprintln(w)
	counts, _ := u["counts"].(map[string]any)
	_ = Print(w, "table", counts, countCols)
	projects := objects(u["projects"])
	if len(projects) == 0 {
		return
	}
	fmt.Fprintln(w)
	prows := make([]map[string]any, 0, len(projects))
	for _, p := range projects {
		r, _ := p["counts"].(map[string]any)
		r = maps.Clone(r)
		if r == nil {
			r = map[string]any{}
		}
		r["project"] = p["project"]
		prows = append(prows, r)
	}
	_ = Print(w, "table", prows, append([]Column{{"PROJECT", "project"}}, countCols...))
}
