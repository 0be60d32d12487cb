package cli

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// usageCmd is `hks project usage` and `hks workspace usage`: quota used
// against hard and counts of workloads (a workspace's sums those of the
// projects the caller may see, then lists them); base is the collection
// path.
func usageCmd(o *Options, what string, base func() string) *cobra.Command {
	return &cobra.Command{
		Use: "usage ID|NAME", Short: "Show a " + what + "'s quota use (used against hard) and counts of its workloads", Args: cobra.ExactArgs(1),
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			out, err := apiCall[api.Usage](cmd.Context(), c, http.MethodGet, itemPath(base(), args[0])+"/usage", nil)
			if err != nil {
				return err
			}
			if o.Output != "table" && o.Output != "" {
				return Print(cmd.OutOrStdout(), o.Output, out, nil)
			}
			printUsage(cmd.OutOrStdout(), out)
			return nil
		}),
	}
}

var countCols = []Column{{"APPLICATIONS", "applications"}, {"PODS", "pods"}, {"RUNNING", "running_pods"}, {"CRONJOBS", "cronjobs"}, {"JOBS", "jobs"}, {"SERVICES", "services"}}

func printUsage(w io.Writer, u api.Usage) {
	rows := []map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(u.Quota)) {
		q := u.Quota[name]
		hard := q.Hard
		if hard == "" {
			hard = "no limit"
		}
		rows = append(rows, map[string]any{"resource": name, "used": q.Used, "hard": hard})
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No quota.")
	} else {
		_ = Print(w, "table", rows, []Column{{"RESOURCE", "resource"}, {"USED", "used"}, {"HARD", "hard"}})
	}
	fmt.Fprintln(w)
	_ = Print(w, "table", u.Counts, countCols)
	if len(u.Projects) == 0 {
		return
	}
	fmt.Fprintln(w)
	type projectCounts struct {
		Project string `json:"project"`
		api.Counts
	}
	prows := make([]projectCounts, 0, len(u.Projects))
	for _, p := range u.Projects {
		prows = append(prows, projectCounts{p.Project, p.Counts})
	}
	_ = Print(w, "table", prows, append([]Column{{"PROJECT", "project"}}, countCols...))
}
