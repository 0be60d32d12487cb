package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// workspacePowerCmds are `workspace sleep|wake|update|hibernate`.
func workspacePowerCmds(o *Options, base func() string, cols []Column) []*cobra.Command {
	var wait bool
	var timeout time.Duration
	sleep := &cobra.Command{
		Use: "sleep NAME", Short: "Put a workspace to sleep: its control plane stops, its data stays; the next kubectl request wakes it", Args: cobra.ExactArgs(1),
		RunE: sendAndPrint[api.Workspace](o, http.MethodPost, cols, func(_ context.Context, _ *Client, args []string) (string, any, error) {
			return itemPath(base(), args[0]) + "/sleep", nil, nil
		}),
	}
	wake := &cobra.Command{
		Use: "wake NAME", Short: "Wake a sleeping workspace; --wait follows it until it runs", Args: cobra.ExactArgs(1),
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			path := itemPath(base(), args[0])
			out, err := apiCall[api.Workspace](cmd.Context(), c, http.MethodPost, path+"/wake", nil)
			if err != nil {
				return err
			}
			if err := Print(cmd.OutOrStdout(), o.Output, out, cols); err != nil {
				return err
			}
			if !wait || out.Status == "running" {
				return nil
			}
			return waitForWorkspace(cmd.Context(), c, itemPath(base(), out.ID), args[0], timeout, cmd.ErrOrStderr())
		}),
	}
	wake.Flags().BoolVar(&wait, "wait", false, "follow the workspace until it runs")
	wake.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "with --wait, how long to wait")

	var name, sleepAfter string
	update := &cobra.Command{
		Use: "update NAME", Short: "Rename a workspace or change its sleep_after (only the flags given)", Args: cobra.ExactArgs(1),
	}
	update.RunE = sendAndPrint[api.Workspace](o, http.MethodPatch, cols, func(_ context.Context, _ *Client, args []string) (string, any, error) {
		doc := map[string]any{}
		if update.Flags().Changed("name") {
			doc["name"] = name
		}
		if update.Flags().Changed("sleep-after") {
			doc["sleep_after"] = sleepAfter
		}
		if len(doc) == 0 {
			return "", nil, errors.New("nothing to change: give --name or --sleep-after")
		}
		return itemPath(base(), args[0]), doc, nil
	})
	update.Flags().StringVar(&name, "name", "", "new name")
	update.Flags().StringVar(&sleepAfter, "sleep-after", "", `idle time before the workspace sleeps: a duration such as 30m or 2h, 0 for never, or "default" for the operator's`)

	var starts, ends []string
	var location string
	var clear bool
	hibernate := &cobra.Command{
		Use:   "hibernate NAME",
		Short: "Set a workspace's hibernation schedules: it sleeps at each --start and wakes at each --end (cron expressions in --location)",
		Long: `Set a workspace's hibernation schedules (replacing the ones it has).

Each --start is a cron expression at which the workspace goes to sleep, each
--end one at which it wakes; they pair up in the order given, and either list
may be longer (a start without an end sleeps until the next request). A
request during a sleep window wakes the workspace, which sleeps again after
its sleep_after. --clear removes every schedule.`,
		Args: cobra.ExactArgs(1),
	}
	hibernate.RunE = sendAndPrint[api.Workspace](o, http.MethodPatch, cols, func(_ context.Context, _ *Client, args []string) (string, any, error) {
		if clear {
			if len(starts)+len(ends) > 0 {
				return "", nil, errors.New("--clear removes every schedule: give it alone")
			}
			return itemPath(base(), args[0]), map[string]any{"hibernation": nil}, nil
		}
		if len(starts)+len(ends) == 0 {
			return "", nil, errors.New("give --start and/or --end (or --clear)")
		}
		n := max(len(starts), len(ends))
		hs := make([]api.HibernationSchedule, n)
		for i := range hs {
			if i < len(starts) {
				hs[i].Start = starts[i]
			}
			if i < len(ends) {
				hs[i].End = ends[i]
			}
			hs[i].Location = location
		}
		return itemPath(base(), args[0]), map[string]any{"hibernation": hs}, nil
	})
	hibernate.Flags().StringArrayVar(&starts, "start", nil, `cron expression at which the workspace sleeps, e.g. "0 19 * * 1-5" (repeatable)`)
	hibernate.Flags().StringArrayVar(&ends, "end", nil, `cron expression at which it wakes, e.g. "0 7 * * 1-5" (repeatable)`)
	hibernate.Flags().StringVar(&location, "location", "", "IANA time zone of the expressions, e.g. Europe/Berlin (default UTC)")
	hibernate.Flags().BoolVar(&clear, "clear", false, "remove every hibernation schedule")
	return []*cobra.Command{sleep, wake, update, hibernate}
}

// printSleep prints a workspace's sleep settings and state, if any.
func printSleep(w io.Writer, ws api.Workspace) {
	line := "\nSleeps after: " + ws.SleepAfter
	if ws.SleepAfter == "0s" {
		line = "\nSleeps after: never"
	}
	if ws.SleepAfterDefault {
		line += " (the operator's default)"
	}
	fmt.Fprintln(w, line)
	if ws.SleptAt != nil {
		fmt.Fprintln(w, "Asleep since: "+ws.SleptAt.Format(time.RFC3339))
	}
	if ws.WakeAt != nil {
		fmt.Fprintln(w, "Next scheduled wake: "+ws.WakeAt.Format(time.RFC3339))
	}
	for i, h := range ws.Hibernation {
		parts := []string{}
		if h.Start != "" {
			parts = append(parts, "sleep at "+h.Start)
		}
		if h.End != "" {
			parts = append(parts, "wake at "+h.End)
		}
		loc := h.Location
		if loc == "" {
			loc = "UTC"
		}
		fmt.Fprintf(w, "Hibernation %d: %s (%s)\n", i+1, strings.Join(parts, ", "), loc)
	}
}
