package cli

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
)

var cronCols = []Column{{"NAME", "name"}, {"SCHEDULE", "schedule"}, {"TIMEZONE", "time_zone"}, {"SUSPENDED", "suspended"},
	{"ACTIVE", "active"}, {"LAST-SCHEDULE", "last_schedule"}, {"NEXT-RUN", "next"}}

// cronView is the table row of a CronJob.
func cronView(cj api.CronJob) map[string]any {
	r := map[string]any{"name": cj.Name, "schedule": cj.Spec.Schedule, "time_zone": cj.Spec.TimeZone, "suspended": yesNo(cj.Spec.Suspend),
		"active": itoa(len(cj.Status.Active))}
	if t := cj.Status.LastScheduleTime; t != nil {
		r["last_schedule"] = timeText(*t)
	}
	if next := cj.Status.NextRuns; len(next) > 0 {
		r["next"] = timeText(next[0])
	}
	return r
}

var runCols = []Column{{"JOB", "job"}, {"TRIGGER", "trigger"}, {"STATUS", "status"}, {"STARTED", "started_at"}, {"DURATION", "duration"}, {"MESSAGE", "message"}}

// runView is the table row of a run; its duration is rounded to 100ms.
func runView(run api.Run) map[string]any {
	return map[string]any{"job": run.Job, "trigger": run.Trigger, "status": run.Status, "started_at": timeText(run.StartedAt),
		"duration": (time.Duration(run.DurationSeconds * float64(time.Second))).Round(100 * time.Millisecond).String(), "message": run.Message}
}

// printCronDetail prints a CronJob's container and next runs after its row.
func printCronDetail(w io.Writer, cj api.CronJob) {
	t := cj.Spec.Template
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Image:       %s\n", t.Image)
	for _, f := range []struct {
		label string
		words []string
	}{{"Command:", t.Command}, {"Args:", t.Args}} {
		if len(f.words) > 0 {
			parts := make([]string, len(f.words))
			for i, x := range f.words {
				parts[i] = strconv.Quote(x)
			}
			fmt.Fprintf(w, "%-12s %s\n", f.label, strings.Join(parts, " "))
		}
	}
	if len(t.Env) > 0 {
		parts := make([]string, len(t.Env))
		for i, e := range t.Env {
			parts[i] = e.Name + "=" + e.Value
		}
		fmt.Fprintf(w, "Env:         %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintf(w, "Concurrency: %s\n", cj.Spec.ConcurrencyPolicy)
	if active := cj.Status.Active; len(active) > 0 {
		fmt.Fprintf(w, "Active jobs: %s\n", strings.Join(active, " "))
	}
	if len(cj.Status.NextRuns) == 0 {
		fmt.Fprintln(w, "Next runs:   none (suspended)")
		return
	}
	fmt.Fprintln(w, "Next runs:")
	for _, n := range cj.Status.NextRuns {
		fmt.Fprintf(w, "  %s\n", timeText(n))
	}
}

func cronCmd(o *Options) *cobra.Command {
	s := &scope{}
	p := inProject{o: o, s: s, coll: "cronjobs", what: "cronjob", word: "cron"}
	cmd := &cobra.Command{Use: "cron", Aliases: []string{"cronjob", "cronjobs"}, Short: "Manage the CronJobs of a project: schedules, manual runs and their history",
		Example: `  hks cron create nightly --project backend --schedule "30 2 * * *" --image busybox:1.36 -- date
  hks cron update nightly --schedule @daily
  hks cron trigger nightly && hks cron history nightly`}
	s.projectFlag(cmd)
	cmd.AddCommand(
		listCmd(p, cronCols, cronView),
		getCmd(p, "Show a CronJob with its container and next runs", "nightly", cronCols, cronView, printCronDetail),
		cronCreateCmd(p), cronUpdateCmd(p), p.deleteCmd("Delete a CronJob, its Jobs and its history", "nightly"),
		verb(p, "suspend", "Suspend a CronJob: no new runs until it is resumed", "suspend", "nightly", cronCols, cronView),
		verb(p, "resume", "Resume a suspended CronJob", "resume", "nightly", cronCols, cronView),
		verb(p, "trigger", "Run a CronJob now: a Job from its template", "trigger", "nightly", runCols, runView),
		cronHistoryCmd(p), cronPreviewCmd(p))
	return cmd
}

// cronSpecFlags are the flags of a CronJob's spec.
type cronSpecFlags struct {
	containerFlags
	schedule, zone, concurrency, restart, serviceAccount string
	suspend                                              bool
	keepSucceeded, keepFailed, backoff                   int
	startingDeadline, activeDeadline                     time.Duration
}

func (f *cronSpecFlags) register(cmd *cobra.Command) {
	f.containerFlags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.schedule, "schedule", "", `5-field cron expression (minute hour day-of-month month day-of-week), e.g. "*/15 9-17 * * 1-5", or @hourly, @daily, …`)
	fl.StringVar(&f.zone, "tz", "", "IANA time zone of the schedule, e.g. Asia/Tokyo (default UTC)")
	fl.BoolVar(&f.suspend, "suspend", false, "suspended: no runs until resumed")
	fl.StringVar(&f.concurrency, "concurrency-policy", "", "Allow (default), Forbid or Replace a run still going")
	fl.IntVar(&f.keepSucceeded, "successful-jobs-history-limit", 0, "succeeded Jobs the cluster keeps (default 3; the platform's history keeps every run)")
	fl.IntVar(&f.keepFailed, "failed-jobs-history-limit", 0, "failed Jobs the cluster keeps (default 1)")
	fl.DurationVar(&f.startingDeadline, "starting-deadline", 0, "a run missed by more than this is skipped, e.g. 5m")
	fl.StringVar(&f.restart, "restart-policy", "", "OnFailure (default) or Never")
	fl.IntVar(&f.backoff, "backoff-limit", 0, "retries before a run fails (default 6)")
	fl.DurationVar(&f.activeDeadline, "active-deadline", 0, "a run going longer than this fails, e.g. 1h")
	fl.StringVar(&f.serviceAccount, "service-account", "", "ServiceAccount of the runs (default: the namespace's default)")
}

// change is the merge patch of the flags given (nil members where none
// was given); --env is left to withEnv.
func (f *cronSpecFlags) change(cmd *cobra.Command, args []string) (api.PatchCronJobRequest, error) {
	var pt api.PatchCronJobRequest
	var t api.JobTemplatePatch
	changed := cmd.Flags().Changed
	strs := []struct {
		flag string
		v    *string
		dst  **string
	}{{"schedule", &f.schedule, &pt.Schedule}, {"tz", &f.zone, &pt.TimeZone}, {"concurrency-policy", &f.concurrency, &pt.ConcurrencyPolicy},
		{"restart-policy", &f.restart, &t.RestartPolicy}, {"service-account", &f.serviceAccount, &t.ServiceAccount}}
	for _, s := range strs {
		if changed(s.flag) {
			*s.dst = s.v
		}
	}
	if changed("suspend") {
		pt.Suspend = &f.suspend
	}
	ints := []struct {
		flag string
		v    int
		dst  **int32
	}{{"successful-jobs-history-limit", f.keepSucceeded, &pt.SuccessfulJobsHistoryLimit}, {"failed-jobs-history-limit", f.keepFailed, &pt.FailedJobsHistoryLimit},
		{"backoff-limit", f.backoff, &t.BackoffLimit}}
	for _, i := range ints {
		n, err := int32Flag(cmd, i.flag, i.v, 0, math.MaxInt32)
		if err != nil {
			return pt, err
		}
		*i.dst = n
	}
	durs := []struct {
		flag      string
		v         time.Duration
		allowZero bool
		dst       **int64
	}{{"starting-deadline", f.startingDeadline, true, &pt.StartingDeadlineSeconds}, {"active-deadline", f.activeDeadline, false, &t.ActiveDeadlineSeconds}}
	for _, d := range durs {
		n, err := seconds(cmd, d.flag, d.v, d.allowZero)
		if err != nil {
			return pt, err
		}
		*d.dst = n
	}
	c, err := f.containerChange(cmd, args)
	if err != nil {
		return pt, err
	}
	t.Image, t.Command, t.Args, t.Resources, pt.Labels = c.image, c.command, c.args, c.resources, c.labels
	if t != (api.JobTemplatePatch{}) {
		pt.Template = &t
	}
	return pt, nil
}

// withEnv sets the env of pt to env.
func withEnv(pt api.PatchCronJobRequest, env []api.EnvVar) api.PatchCronJobRequest {
	t := api.JobTemplatePatch{}
	if pt.Template != nil {
		t = *pt.Template
	}
	t.Env = &env
	pt.Template = &t
	return pt
}

func cronCreateCmd(p inProject) *cobra.Command {
	return specCreateCmd(p, &cronSpecFlags{}, "Create a CronJob; the schedule and time zone are checked before anything reaches the cluster",
		`  hks cron create nightly --schedule "30 2 * * *" --tz Europe/Berlin --image busybox:1.36 --concurrency-policy Forbid -- sh -c 'date'
  hks cron create tick --schedule @hourly --image busybox:1.36 --env MODE=prod --restart-policy Never -- date`,
		cronCols, cronView, "schedule", "image")
}

func cronUpdateCmd(p inProject) *cobra.Command {
	return specUpdateCmd(p, &cronSpecFlags{}, "Change the fields of a CronJob's spec that flags give",
		`Change a CronJob: the flags given replace those fields of its spec, the
rest stays. --env NAME=VALUE sets one variable and --env NAME- removes it
(--label likewise); a command after -- replaces the command.`,
		`  hks cron update nightly --schedule "0 3 * * *" --env MODE=dry-run
  hks cron update nightly --image busybox:1.37 -- sh -c 'date; backup'`,
		cronCols, cronView)
}

// create is the request that creates the CronJob of the flags.
func (f *cronSpecFlags) create(cmd *cobra.Command, args []string) (any, error) {
	// A new spec has nothing to remove: NAME- is an error here.
	env, err := envVars(f.env)
	if err != nil {
		return nil, err
	}
	if _, err := labelMap(f.labels); err != nil {
		return nil, err
	}
	pt, err := f.change(cmd, args)
	if err != nil {
		return nil, err
	}
	if env != nil {
		pt = withEnv(pt, env)
	}
	// The patch of the flags, applied to nothing, is the new spec: the two
	// types name the same members.
	var spec api.CronJobSpec
	if err := convert(pt, &spec); err != nil {
		return nil, err
	}
	return api.CreateCronJobRequest{Name: args[0], CronJobSpec: spec}, nil
}

// update is the patch of the flags given; when --env is given it needs
// the CronJob as it is (its env and version).
func (f *cronSpecFlags) update(cmd *cobra.Command, args []string) (func(cur *api.CronJob) (any, error), error) {
	pt, err := f.change(cmd, args)
	if err != nil {
		return nil, err
	}
	return func(cur *api.CronJob) (any, error) {
		if cur == nil {
			return pt, nil
		}
		env, err := mergeEnv(cur.Spec.Template.Env, "env", f.env)
		if err != nil {
			return nil, err
		}
		out := withEnv(pt, env)
		out.ResourceVersion = cur.ResourceVersion
		return out, nil
	}, nil
}

func cronHistoryCmd(p inProject) *cobra.Command {
	return subListCmd(p, "history", "A CronJob's runs, newest first, as the platform recorded them (they outlive the cluster's history limits)",
		p.example("history", "nightly")+"\n"+p.example("history", "nightly -o json"), "history", runCols, runView)
}

func cronPreviewCmd(p inProject) *cobra.Command {
	var zone, since string
	var count int
	cmd := &cobra.Command{
		Use:   "preview SCHEDULE",
		Short: "Print the next runs of a schedule in a time zone, one a line (nothing is sent to the cluster)",
		Example: `  hks cron preview "*/15 9-17 * * 1-5" --tz Asia/Tokyo --count 3
  hks cron preview @daily --tz Europe/Berlin --since 2026-03-28T00:00:00Z`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 {
				return fmt.Errorf("--count %d: want 1 or more", count)
			}
			out, err := callAs[api.Preview](cmd.Context(), p, http.MethodGet,
				"preview"+query("schedule", args[0], "time_zone", zone, "count", strconv.Itoa(count), "since", since), nil)
			if err != nil {
				return err
			}
			if p.o.Output != "table" && p.o.Output != "" {
				return printTree(cmd.OutOrStdout(), p.o.Output, out)
			}
			for _, t := range out.NextRuns {
				fmt.Fprintln(cmd.OutOrStdout(), timeText(t))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&zone, "tz", "", "IANA time zone, e.g. Asia/Tokyo (default UTC)")
	cmd.Flags().IntVar(&count, "count", 5, "how many runs")
	cmd.Flags().StringVar(&since, "since", "", "RFC 3339 time to start from (default now)")
	// --after is the flag's former name.
	cmd.Flags().StringVar(&since, "after", "", "RFC 3339 time to start from (default now)")
	_ = cmd.Flags().MarkDeprecated("after", "use --since")
	return cmd
}
