package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// aiCmd is `hks ai`: chats with the assistant about a workspace, the
// analyzers, the plans the assistant proposes, and the organization's
// assistant settings and usage. --org is the organization of every
// subcommand; the ones about a workspace add --workspace.
func aiCmd(o *Options) *cobra.Command {
	s := &scope{}
	cmd := &cobra.Command{
		Use:   "ai",
		Short: "Ask the assistant about a workspace, diagnose it, and confirm or reject the changes it proposes",
		Example: `  hks ai chat --org acme --workspace web --project api
  hks ai diagnose --org acme --workspace web`,
	}
	s.orgFlag(cmd)
	cmd.AddCommand(aiChatCmd(o, s), aiAskCmd(o, s), aiConfirmCmd(o, s), aiRejectCmd(o, s), aiDiagnoseCmd(o, s),
		aiChatsCmd(o, s), aiSettingsCmd(o, s), aiStatusCmd(o, s), aiUsageCmd(o, s), aiTokenCmd(o))
	return cmd
}

// aiTokenCmd prints a platform access token of the signed-in user, for an
// MCP client's Authorization header.
func aiTokenCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "token",
		Short:   "Print a platform access token of the signed-in user for an MCP client (Authorization: Bearer …); it expires with the session's access tokens",
		Example: `  hks ai token`,
		Args:    cobra.NoArgs,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
			if err := c.withToken(cmd.Context(), func() error { return nil }); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.Creds.AccessToken)
			fmt.Fprintf(cmd.ErrOrStderr(), "valid until %s\n", c.Creds.ExpiresAt.Local().Format(time.RFC3339))
			return nil
		}),
	}
}

// aiWorkspaceFlag adds the required --workspace of the commands about a
// workspace.
func aiWorkspaceFlag(cmd *cobra.Command, s *scope) {
	envFlag(cmd, &s.workspace, "workspace", "HKS_WORKSPACE", "workspace id or name")
}

// aiProjectFlag adds the optional --project: without one (or with ""),
// the whole workspace.
func aiProjectFlag(cmd *cobra.Command, s *scope) {
	cmd.Flags().StringVar(&s.project, "project", os.Getenv("HKS_PROJECT"), `project id or name (env HKS_PROJECT; default or "": the whole workspace)`)
}

// aiPath is the workspace's assistant collection, W/ai.
func (s *scope) aiPath() string { return s.wsPath() + "/ai" }

func (s *scope) planPath(id string) string { return itemPath(s.aiPath()+"/plans", id) }

func (s *scope) chatPath(id string) string { return itemPath(s.aiPath()+"/chats", id) }

// tableOutput tells whether -o asks for the human view.
func tableOutput(o *Options) bool { return o.Output == "table" || o.Output == "" }

// isTerminal tells whether f is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// colorOn tells whether w is a terminal that takes colors (NO_COLOR unset).
func colorOn(w io.Writer) bool { return os.Getenv("NO_COLOR") == "" && isTerminal(w) }

// problemIs tells whether err is a problem answer of type name (the last
// segment of its type URI).
func problemIs(err error, name string) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Type == name || strings.HasSuffix(ae.Type, "/"+name)
}

// aiChatCmd is `hks ai chat`: an interactive chat, a message a line.
func aiChatCmd(o *Options, s *scope) *cobra.Command {
	var chatID, provider string
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Chat with the assistant: each line is a message, the reply streams; plans are confirmed at a prompt (EOF or /exit ends it)",
		Example: `  hks ai chat --org acme --workspace web --project api
  hks ai chat --chat "$CHAT_ID" --org acme --workspace web`,
		Args: cobra.NoArgs,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
			if !tableOutput(o) {
				return errors.New("hks ai chat is interactive and prints no -o " + o.Output + `: use hks ai ask "…" -o ` + o.Output)
			}
			ctx := cmd.Context()
			stdin := cmd.InOrStdin()
			in := bufio.NewReader(stdin)
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			tty := isTerminal(stdin)
			d := &planDecider{c: c, s: s, in: in, out: out, prompt: errw, color: colorOn(out), rejectOnNo: true}
			if chatID != "" {
				chat, err := aiGet[api.AIChatDetail](ctx, c, http.MethodGet, s.chatPath(chatID), nil)
				if err != nil {
					return err
				}
				fmt.Fprintf(errw, "Chat %s: %s\n", chat.ID, chat.Title)
				chatID = chat.ID
			}
			defer func() {
				if chatID != "" {
					fmt.Fprintf(errw, "Chat %s: continue it with hks ai chat --chat %s\n", chatID, chatID)
				}
			}()
			for {
				if tty {
					fmt.Fprint(errw, "> ")
				}
				line, rerr := in.ReadString('\n')
				if rerr != nil && !errors.Is(rerr, io.EOF) {
					return fmt.Errorf("read the message: %w", rerr)
				}
				text := strings.TrimSpace(line)
				if text == "/exit" || text == "/quit" || (text == "" && rerr != nil) {
					if tty && rerr != nil {
						fmt.Fprintln(errw)
					}
					return nil
				}
				if text == "" {
					continue
				}
				if chatID == "" {
					chat, err := aiGet[api.AIChat](ctx, c, http.MethodPost, s.aiPath()+"/chats", api.CreateChatRequest{Project: s.project})
					if err != nil {
						return fmt.Errorf("start a chat: %w", err)
					}
					chatID = chat.ID
				}
				turn, err := streamTurn(ctx, c, s.chatPath(chatID), api.SendMessageRequest{Content: text, Provider: provider}, out, errw)
				if err != nil {
					if ctx.Err() != nil || turnErrorEndsChat(err) {
						return err
					}
					fmt.Fprintln(errw, "✗", err)
				}
				for _, p := range turn.Plans {
					if _, err := d.decide(ctx, p); err != nil {
						if ctx.Err() != nil {
							return err
						}
						fmt.Fprintln(errw, "✗", err)
					}
				}
				if rerr != nil {
					return nil
				}
			}
		}),
	}
	aiWorkspaceFlag(cmd, s)
	aiProjectFlag(cmd, s)
	cmd.Flags().StringVar(&chatID, "chat", "", "continue this chat (its id) instead of starting one")
	cmd.Flags().StringVar(&provider, "provider", "", "the configured provider to ask (default: the default one; see hks ai status)")
	return cmd
}

// turnErrorEndsChat tells whether an error of a turn will stay so for the
// next message: the assistant is off, no model is set up, the budget is
// spent, or the chat or workspace is not found.
func turnErrorEndsChat(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Status {
	case http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests, http.StatusUnauthorized:
		return true
	}
	return problemIs(err, "no-model")
}

// aiAskCmd is `hks ai ask QUESTION`: one message in a new chat.
func aiAskCmd(o *Options, s *scope) *cobra.Command {
	var provider string
	cmd := &cobra.Command{
		Use:   "ask QUESTION",
		Short: "Ask the assistant one question in a new chat; the reply streams, and the plans it makes wait for hks ai confirm",
		Example: `  hks ai ask "why does web not start?" --org acme --workspace web --project api
  hks ai ask "scale web to 5" --org acme --workspace web --project api -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			ctx := cmd.Context()
			chat, err := aiGet[api.AIChat](ctx, c, http.MethodPost, s.aiPath()+"/chats", api.CreateChatRequest{Project: s.project})
			if err != nil {
				return fmt.Errorf("start a chat: %w", err)
			}
			msg := api.SendMessageRequest{Content: strings.Join(args, " "), Provider: provider}
			if !tableOutput(o) {
				turn, err := aiGet[api.AITurn](ctx, c, http.MethodPost, s.chatPath(chat.ID)+"/messages", msg)
				if err != nil {
					forgetChat(ctx, c, s.chatPath(chat.ID))
					return err
				}
				return printTree(cmd.OutOrStdout(), o.Output, turn)
			}
			out := cmd.OutOrStdout()
			turn, err := streamTurn(ctx, c, s.chatPath(chat.ID), msg, out, cmd.ErrOrStderr())
			for _, p := range turn.Plans {
				fmt.Fprintln(out)
				printPlan(out, p, colorOn(out))
				fmt.Fprintf(out, "Confirm it: hks ai confirm %s --org %s --workspace %s\n", p.ID, s.org, s.workspace)
				fmt.Fprintf(out, "Reject it:  hks ai reject %s --org %s --workspace %s\n", p.ID, s.org, s.workspace)
				if p.ConfirmURL != "" {
					fmt.Fprintf(out, "Or in the console: %s\n", p.ConfirmURL)
				}
			}
			if err != nil && len(turn.Messages) == 0 {
				// Refused before anything was said (no model, the budget, …):
				// an empty chat is not worth keeping.
				forgetChat(ctx, c, s.chatPath(chat.ID))
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Chat %s: continue it with hks ai chat --chat %s\n", chat.ID, chat.ID)
			return err
		}),
	}
	aiWorkspaceFlag(cmd, s)
	aiProjectFlag(cmd, s)
	cmd.Flags().StringVar(&provider, "provider", "", "the configured provider to ask (default: the default one; see hks ai status)")
	return cmd
}

// streamTurn sends a message to the chat at chatPath and writes the reply
// to w as it streams: the text as it comes, each tool call on a line of
// its own (errors under it). notes receives why a turn stopped early. It
// returns the turn (from its done event) with the plans it made; after an
// error, the turn has the plans that came before it.
func streamTurn(ctx context.Context, c *Client, chatPath string, msg api.SendMessageRequest, w, notes io.Writer) (api.AITurn, error) {
	tw := &turnWriter{w: w}
	var turn api.AITurn
	var plans []api.AIPlan
	done := false
	err := c.streamPost(ctx, chatPath+"/messages", msg, func(f frame) error {
		switch f.name {
		case "delta":
			var d api.AIDelta
			if err := json.Unmarshal(f.data, &d); err != nil {
				return fmt.Errorf("read the reply: bad delta: %w", err)
			}
			termSafe(&d)
			tw.text(d.Text)
			tw.streamed = tw.streamed || d.Text != ""
		case "message":
			var m api.AIMessage
			if err := json.Unmarshal(f.data, &m); err != nil {
				return fmt.Errorf("read the reply: bad message: %w", err)
			}
			termSafe(&m)
			switch m.Role {
			case "assistant":
				if !tw.streamed {
					tw.text(m.Content)
				}
				tw.endLine()
				tw.streamed = false
			case "tool":
				tw.endLine()
				printToolMessage(w, m, false)
			}
		case "plan":
			var p api.AIPlan
			if err := json.Unmarshal(f.data, &p); err != nil {
				return fmt.Errorf("read the reply: bad plan: %w", err)
			}
			termSafe(&p)
			plans = append(plans, p)
		case "done":
			if err := json.Unmarshal(f.data, &turn); err != nil {
				return fmt.Errorf("read the reply: bad turn: %w", err)
			}
			termSafe(&turn)
			done = true
			return errStopStream
		case "error":
			tw.endLine()
			ae := apiError(0, f.data)
			if ae.Status == 0 {
				ae.Status = http.StatusBadGateway
			}
			return ae
		}
		return nil
	})
	tw.endLine()
	if len(turn.Plans) == 0 {
		turn.Plans = plans
	}
	if err == nil && !done {
		err = errors.New("the reply ended before the turn was done")
	}
	if err == nil && turn.Stopped != "" {
		fmt.Fprintf(notes, "(the turn stopped early: %s)\n", turn.Stopped)
	}
	return turn, err
}

// turnWriter writes streamed reply text, ending its last line before
// anything else is printed.
type turnWriter struct {
	w io.Writer
	// open: the text written last did not end its line.
	open bool
	// streamed: text of the current assistant message came as deltas.
	streamed bool
}

func (t *turnWriter) text(s string) {
	if s == "" {
		return
	}
	io.WriteString(t.w, s)
	t.open = !strings.HasSuffix(s, "\n")
}

func (t *turnWriter) endLine() {
	if t.open {
		fmt.Fprintln(t.w)
		t.open = false
	}
}

// streamPost POSTs in to path asking for Server-Sent Events and calls fn
// for each until fn returns an error (errStopStream ends it cleanly), the
// server ends the stream (io.EOF, returned as nil) or ctx ends. An error
// before the stream starts is the answer's APIError.
func (c *Client) streamPost(ctx context.Context, path string, in any, fn func(frame) error) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	var resp *http.Response
	err = c.withToken(ctx, func() (err error) {
		resp, err = c.send(ctx, http.MethodPost, path, "text/event-stream", b)
		return err
	})
	var ae *APIError
	if errors.As(err, &ae) {
		ae.nameReference(path)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("the server answered %q, not an event stream", ct)
	}
	err = readFrames(resp.Body, fn)
	switch {
	case errors.Is(err, errStopStream), errors.Is(err, io.EOF):
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return err
}

// abbreviate is s on one line (runs of white space as one space), cut to
// n characters with an ellipsis.
func abbreviate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// compactJSON is JSON text without its white space (as given if it is no
// JSON).
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

// printToolMessage prints a tool message compactly: `· tool {args}`, then
// `  ✗ error` for a failed call and `  → plan ID` for a write that made a
// plan; with results, also `  ← result` for a call that worked.
func printToolMessage(w io.Writer, m api.AIMessage, results bool) {
	line := "· " + cmp.Or(m.Tool, "tool")
	if args := compactJSON(m.ToolArgs); args != "" {
		line += " " + abbreviate(args, 120)
	}
	fmt.Fprintln(w, line)
	switch {
	case m.IsError:
		fmt.Fprintln(w, "  ✗ "+abbreviate(m.Content, 200))
	case m.PlanID != "":
		fmt.Fprintln(w, "  → plan "+m.PlanID)
	case results && m.Content != "":
		fmt.Fprintln(w, "  ← "+abbreviate(m.Content, 100))
	}
}

// printPlan prints a plan: its summary, the request and the diff (colored
// on a terminal).
func printPlan(w io.Writer, p api.AIPlan, color bool) {
	status := ""
	if p.Status != "" && p.Status != "pending" {
		status = " [" + p.Status + "]"
	}
	fmt.Fprintf(w, "Plan %s%s: %s\n", p.ID, status, p.Summary)
	if p.Method != "" {
		to := ""
		if p.Target == "platform" {
			to = "  (the platform's API)"
		}
		fmt.Fprintf(w, "  %s %s%s\n", p.Method, p.Path, to)
	}
	if !p.ExpiresAt.IsZero() && (p.Status == "" || p.Status == "pending") {
		fmt.Fprintf(w, "  expires at %s\n", timeText(p.ExpiresAt))
	}
	if p.Diff != "" {
		for _, line := range strings.Split(strings.TrimRight(p.Diff, "\n"), "\n") {
			fmt.Fprintln(w, colorDiffLine(line, color))
		}
	}
}

// colorDiffLine colors a line of a unified diff: removals red, additions
// green, hunk headers cyan, file headers bold.
func colorDiffLine(line string, color bool) string {
	if !color {
		return line
	}
	code := ""
	switch {
	case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
		code = "1"
	case strings.HasPrefix(line, "+"):
		code = "32"
	case strings.HasPrefix(line, "-"):
		code = "31"
	case strings.HasPrefix(line, "@@"):
		code = "36"
	default:
		return line
	}
	return "\x1b[" + code + "m" + line + "\x1b[0m"
}

// planDecider shows plans and confirms or rejects them.
type planDecider struct {
	c *Client
	s *scope
	// in gives the answers; prompt receives the questions, out the plans
	// and outcomes.
	in          *bufio.Reader
	out, prompt io.Writer
	color       bool
	// yes confirms without asking; a stale plan's fresh plan is then shown,
	// not confirmed.
	yes bool
	// rejectOnNo rejects a plan the user does not confirm (otherwise it
	// stays pending and decide fails).
	rejectOnNo bool
}

// errNotConfirmed: the user did not confirm the plan.
var errNotConfirmed = errors.New("not confirmed")

// ask asks whether to confirm a plan; only y or yes confirms (end of input
// is no).
func (d *planDecider) ask() (bool, error) {
	fmt.Fprint(d.prompt, "Confirm this plan? [y/N] ")
	line, err := d.in.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	if err != nil {
		fmt.Fprintln(d.prompt)
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// decide shows plan p, asks (unless yes) and confirms or rejects it,
// printing the outcome. A plan whose object changed since it was made
// (409 plan-stale) is replaced by the fresh plan the server made, shown
// and asked about again. It returns the plan as decided.
func (d *planDecider) decide(ctx context.Context, p api.AIPlan) (api.AIPlan, error) {
	for {
		printPlan(d.out, p, d.color)
		if p.Status != "" && p.Status != "pending" {
			return p, fmt.Errorf("plan %s is %s, not pending", p.ID, p.Status)
		}
		if !d.yes {
			ok, err := d.ask()
			if err != nil {
				return p, err
			}
			if !ok {
				if !d.rejectOnNo {
					return p, fmt.Errorf("plan %s %w: it stays pending until it expires (hks ai reject %s rejects it)", p.ID, errNotConfirmed, p.ID)
				}
				rejected, err := aiGet[api.AIPlan](ctx, d.c, http.MethodPost, d.s.planPath(p.ID)+"/reject", nil)
				if err != nil {
					return p, fmt.Errorf("reject plan %s: %w", p.ID, err)
				}
				fmt.Fprintf(d.out, "Rejected plan %s.\n", p.ID)
				return rejected, nil
			}
		}
		done, err := aiGet[api.AIPlan](ctx, d.c, http.MethodPost, d.s.planPath(p.ID)+"/confirm", nil)
		if err == nil {
			return done, d.outcome(done)
		}
		var ae *APIError
		switch {
		case problemIs(err, "plan-stale"):
			errors.As(err, &ae)
			fresh, ferr := d.freshPlan(ctx, ae)
			if ferr != nil {
				return p, fmt.Errorf("plan %s is stale (%w), and its fresh plan could not be read: %w", p.ID, err, ferr)
			}
			fmt.Fprintf(d.out, "The object changed since plan %s was made: a fresh plan follows.\n", p.ID)
			if d.yes {
				printPlan(d.out, fresh, d.color)
				return fresh, fmt.Errorf("plan %s is stale: review the fresh plan with hks ai confirm %s", p.ID, fresh.ID)
			}
			p = fresh
			continue
		case errors.As(err, &ae) && ae.Status == http.StatusGone:
			return p, fmt.Errorf("plan %s expired: ask the assistant again for a fresh one: %w", p.ID, err)
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			return p, fmt.Errorf("plan %s was refused: %w", p.ID, err)
		case problemIs(err, "plan-decided"):
			return p, fmt.Errorf("plan %s was already decided: %w", p.ID, err)
		}
		return p, fmt.Errorf("confirm plan %s: %w", p.ID, err)
	}
}

// outcome prints what a confirmed plan did; a plan that failed is an
// error with the cluster's message.
func (d *planDecider) outcome(p api.AIPlan) error {
	switch p.Status {
	case "done":
		fmt.Fprintf(d.out, "✓ Done: %s\n", p.Summary)
		return nil
	case "failed":
		return fmt.Errorf("plan %s failed: %s", p.ID, cmp.Or(p.Result, "the cluster gave no reason"))
	}
	fmt.Fprintf(d.out, "Plan %s is %s.\n", p.ID, p.Status)
	return nil
}

// freshPlan reads the plan the Location of a plan-stale answer names.
func (d *planDecider) freshPlan(ctx context.Context, ae *APIError) (api.AIPlan, error) {
	if ae == nil || ae.Location == "" {
		return api.AIPlan{}, errors.New("the answer names no fresh plan")
	}
	u, err := url.Parse(ae.Location)
	if err != nil || u.Path == "" {
		return api.AIPlan{}, fmt.Errorf("the answer's Location %q is no plan", ae.Location)
	}
	path := u.EscapedPath()
	if !strings.HasPrefix(path, "/") {
		// Relative to the plans collection.
		path = d.s.aiPath() + "/plans/" + path
	}
	return aiGet[api.AIPlan](ctx, d.c, http.MethodGet, path, nil)
}

// aiConfirmCmd is `hks ai confirm PLAN`.
func aiConfirmCmd(o *Options, s *scope) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "confirm PLAN",
		Short: "Show a plan the assistant made and confirm it (asks first unless --yes); the change runs as you",
		Example: `  hks ai confirm "$PLAN_ID" --org acme --workspace web
  hks ai confirm "$PLAN_ID" --yes --org acme --workspace web -o json`,
		Args: cobra.ExactArgs(1),
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			ctx := cmd.Context()
			p, err := aiGet[api.AIPlan](ctx, c, http.MethodGet, s.planPath(args[0]), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			show := out
			if !tableOutput(o) {
				show = cmd.ErrOrStderr() // the answer goes to standard output
			}
			d := &planDecider{c: c, s: s, in: bufio.NewReader(cmd.InOrStdin()), out: show, prompt: cmd.ErrOrStderr(), color: colorOn(show), yes: yes}
			decided, err := d.decide(ctx, p)
			if err != nil {
				return err
			}
			if !tableOutput(o) {
				return printTree(out, o.Output, decided)
			}
			return nil
		}),
	}
	aiWorkspaceFlag(cmd, s)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm without asking")
	return cmd
}

var planCols = []Column{{"ID", "id"}, {"STATUS", "status"}, {"SUMMARY", "summary"}}

func planRow(p api.AIPlan) map[string]any {
	return map[string]any{"id": p.ID, "status": p.Status, "summary": p.Summary}
}

// aiRejectCmd is `hks ai reject PLAN`.
func aiRejectCmd(o *Options, s *scope) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "reject PLAN",
		Short:   "Reject a plan the assistant made: it never runs",
		Example: `  hks ai reject "$PLAN_ID" --org acme --workspace web`,
		Args:    cobra.ExactArgs(1),
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			p, err := aiGet[api.AIPlan](cmd.Context(), c, http.MethodPost, s.planPath(args[0])+"/reject", nil)
			if err != nil {
				return err
			}
			return printOne(cmd.OutOrStdout(), o.Output, p, planCols, planRow)
		}),
	}
	aiWorkspaceFlag(cmd, s)
	return cmd
}

// aiDiagnoseCmd is `hks ai diagnose`: the analyzers, without a model.
func aiDiagnoseCmd(o *Options, s *scope) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diagnose",
		Short: "Run the analyzers over a project or a whole workspace (no model needed) and list what they find, the worst first",
		Example: `  hks ai diagnose --org acme --workspace web
  hks ai diagnose --org acme --workspace web --project api -o json`,
		Args: cobra.NoArgs,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
			path, where := s.wsPath()+"/diagnose", "workspace "+s.workspace
			if s.project != "" {
				path, where = s.wsPath()+"/projects/"+url.PathEscape(s.project)+"/diagnose", "project "+s.project
			}
			d, err := aiGet[api.Diagnosis](cmd.Context(), c, http.MethodGet, path, nil)
			if err != nil {
				return err
			}
			if !tableOutput(o) {
				return printTree(cmd.OutOrStdout(), o.Output, d)
			}
			printDiagnosis(cmd.OutOrStdout(), d, where)
			return nil
		}),
	}
	aiWorkspaceFlag(cmd, s)
	aiProjectFlag(cmd, s)
	return cmd
}

// severities are the findings' severities, the worst first.
var severities = []string{"critical", "warning", "info"}

func severityRank(sev string) int {
	if i := slices.Index(severities, strings.ToLower(sev)); i >= 0 {
		return i
	}
	return len(severities)
}

// plural is n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return itoa(n) + " " + noun + "s"
}

// printDiagnosis prints the findings of d, the worst first: a row each
// (severity, title, objects), the evidence indented under it and the
// suggested fix after →; then what ran over what. where names what was
// diagnosed.
func printDiagnosis(w io.Writer, d api.Diagnosis, where string) {
	fs := slices.Clone(d.Findings)
	slices.SortStableFunc(fs, func(a, b api.Finding) int { return cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)) })
	if len(fs) == 0 {
		fmt.Fprintf(w, "No problems found in %s.\n", where)
	} else {
		sevW, titleW := len("SEVERITY"), len("TITLE")
		for _, f := range fs {
			sevW = max(sevW, utf8.RuneCountInString(f.Severity))
			titleW = max(titleW, utf8.RuneCountInString(f.Title))
		}
		row := func(sev, title, objects string) {
			line := sev + strings.Repeat(" ", sevW-utf8.RuneCountInString(sev)+2) + title
			if objects != "" {
				line += strings.Repeat(" ", titleW-utf8.RuneCountInString(title)+2) + objects
			}
			fmt.Fprintln(w, line)
		}
		indent := strings.Repeat(" ", sevW+4)
		row("SEVERITY", "TITLE", "OBJECTS")
		for _, f := range fs {
			row(strings.ToUpper(f.Severity), f.Title, findingObjects(f.Objects, len(d.Namespaces) > 1))
			for _, ev := range f.Evidence {
				fmt.Fprintln(w, indent+abbreviate(ev, 200))
			}
			if f.Suggestion != "" {
				fmt.Fprintln(w, indent+"→ "+f.Suggestion)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s from %s over %s\n", plural(len(fs), "finding"), plural(len(d.Analyzers), "analyzer"), plural(d.Objects, "object"))
	if len(d.Skipped) > 0 {
		fmt.Fprintf(w, "Skipped (not readable): %s\n", strings.Join(d.Skipped, ", "))
	}
}

// findingObjects lists a finding's objects as Kind/name (with the
// namespace when the diagnosis spans several), at most three.
func findingObjects(objs []api.FindingObject, namespaces bool) string {
	const most = 3
	var parts []string
	for i, ob := range objs {
		if i == most {
			parts = append(parts, fmt.Sprintf("+%d more", len(objs)-most))
			break
		}
		s := ob.Kind + "/" + ob.Name
		if namespaces && ob.Namespace != "" {
			s += " (" + ob.Namespace + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

var chatCols = []Column{{"ID", "id"}, {"TITLE", "title"}, {"PROJECT", "project"}, {"UPDATED", "updated_at"}}

func chatRow(ch api.AIChat) map[string]any {
	return map[string]any{"id": ch.ID, "title": ch.Title, "project": ch.Project, "updated_at": timeText(ch.UpdatedAt)}
}

// aiChatsCmd is `hks ai chats list|show|delete`: the caller's chats.
func aiChatsCmd(o *Options, s *scope) *cobra.Command {
	cmd := &cobra.Command{Use: "chats", Short: "List, show and delete your chats with the assistant in a workspace",
		Example: `  hks ai chats list --org acme --workspace web`}
	aiWorkspaceFlag(cmd, s)
	list := &cobra.Command{
		Use: "list", Short: "List your chats in the workspace, the latest first", Args: cobra.NoArgs,
		Example: `  hks ai chats list --org acme --workspace web -o json`,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
			chats, err := listPages[api.AIChat](cmd.Context(), c, s.aiPath()+"/chats")
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), o.Output, chats, chatCols, chatRow)
		}),
	}
	show := &cobra.Command{
		Use: "show ID", Short: "Print a chat: the messages, the tool calls with their results abbreviated, and the plans with their status", Args: cobra.ExactArgs(1),
		Example: `  hks ai chats show "$CHAT_ID" --org acme --workspace web`,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			ch, err := aiGet[api.AIChatDetail](cmd.Context(), c, http.MethodGet, s.chatPath(args[0]), nil)
			if err != nil {
				return err
			}
			if !tableOutput(o) {
				return printTree(cmd.OutOrStdout(), o.Output, ch)
			}
			printChat(cmd.OutOrStdout(), ch)
			return nil
		}),
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a chat with its messages and plans", Args: cobra.ExactArgs(1),
		Example: `  hks ai chats delete "$CHAT_ID" --org acme --workspace web`,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			if err := c.Do(cmd.Context(), http.MethodDelete, s.chatPath(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "chat %s deleted\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(list, show, del)
	return cmd
}

// printChat prints a chat as a conversation: the user's and the
// assistant's text, each tool call with its result abbreviated, the plan
// a call made with its status, and plans no message names at the end.
func printChat(w io.Writer, ch api.AIChatDetail) {
	head := "Chat " + ch.ID + ": " + ch.Title
	if ch.Project != "" {
		head += " (project " + ch.Project + ")"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintf(w, "Started %s, last message %s\n", timeText(ch.CreatedAt), timeText(ch.UpdatedAt))
	plans := map[string]api.AIPlan{}
	for _, p := range ch.Plans {
		plans[p.ID] = p
	}
	shown := map[string]bool{}
	for _, m := range ch.Messages {
		switch m.Role {
		case "user":
			fmt.Fprintln(w)
			fmt.Fprintln(w, "you: "+m.Content)
		case "assistant":
			if m.Content != "" {
				fmt.Fprintln(w, "assistant: "+m.Content)
			}
		case "tool":
			p, ok := plans[m.PlanID]
			if !ok {
				printToolMessage(w, m, true)
				continue
			}
			printToolMessage(w, api.AIMessage{Tool: m.Tool, ToolArgs: m.ToolArgs}, false)
			fmt.Fprintf(w, "  → plan %s [%s]: %s\n", p.ID, p.Status, p.Summary)
			if p.Result != "" && p.Status == "failed" {
				fmt.Fprintln(w, "    "+abbreviate(p.Result, 200))
			}
			shown[p.ID] = true
		default:
			fmt.Fprintf(w, "%s: %s\n", m.Role, m.Content)
		}
	}
	var rest []api.AIPlan
	for _, p := range ch.Plans {
		if !shown[p.ID] {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Plans:")
		for _, p := range rest {
			fmt.Fprintf(w, "  %s [%s]: %s\n", p.ID, p.Status, p.Summary)
			if p.Result != "" && p.Status == "failed" {
				fmt.Fprintln(w, "    "+abbreviate(p.Result, 200))
			}
		}
	}
}

func budgetText(n int64) string {
	if n == 0 {
		return "no cap"
	}
	return itoa(n)
}

var settingsCols = []Column{{"ENABLED", "enabled"}, {"MONTHLY BUDGET", "budget"}, {"USED THIS MONTH", "used"}, {"RESETS AT", "resets_at"}}

func settingsRow(st api.AISettings) map[string]any {
	return map[string]any{"enabled": yesNo(st.Enabled), "budget": budgetText(st.MonthlyTokenBudget), "used": itoa(st.UsedThisMonth), "resets_at": timeText(st.ResetsAt)}
}

// aiSettingsCmd is `hks ai settings`: read, or change with its flags, the
// organization's assistant settings.
func aiSettingsCmd(o *Options, s *scope) *cobra.Command {
	var enable, disable bool
	var budget int64
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show the organization's assistant settings and this month's tokens; --enable, --disable and --budget change them (organization admins)",
		Example: `  hks ai settings --org acme
  hks ai settings --org acme --budget 2000000
  hks ai settings --org acme --disable`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
		path := s.orgPath() + "/ai"
		var patch api.PatchAISettingsRequest
		if enable || disable {
			patch.Enabled = &enable
		}
		if cmd.Flags().Changed("budget") {
			if budget < 0 {
				return errors.New("--budget: must be 0 (no cap) or more")
			}
			patch.MonthlyTokenBudget = &budget
		}
		method, body := http.MethodGet, any(nil)
		if patch.Enabled != nil || patch.MonthlyTokenBudget != nil {
			method, body = http.MethodPatch, patch
		}
		st, err := aiGet[api.AISettings](cmd.Context(), c, method, path, body)
		if err != nil {
			return err
		}
		return printOne(cmd.OutOrStdout(), o.Output, st, settingsCols, settingsRow)
	})
	cmd.Flags().BoolVar(&enable, "enable", false, "turn the assistant on for the organization")
	cmd.Flags().BoolVar(&disable, "disable", false, "turn the assistant off for the organization (the analyzers still work)")
	cmd.Flags().Int64Var(&budget, "budget", 0, "tokens a calendar month (UTC) for the organization's chats; 0: no cap")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
	return cmd
}

// aiStatusCmd is `hks ai status`: the models and tools the assistant has.
func aiStatusCmd(o *Options, s *scope) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show whether the assistant is on for the organization, its models and its tools (read or write)",
		Example: `  hks ai status --org acme`,
		Args:    cobra.NoArgs,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
			st, err := aiGet[api.AIStatus](cmd.Context(), c, http.MethodGet, s.orgPath()+"/ai/status", nil)
			if err != nil {
				return err
			}
			if !tableOutput(o) {
				return printTree(cmd.OutOrStdout(), o.Output, st)
			}
			printAIStatus(cmd.OutOrStdout(), st)
			return nil
		}),
	}
}

func printAIStatus(w io.Writer, st api.AIStatus) {
	state := "on"
	if !st.Enabled {
		state = "off for this organization (hks ai settings --enable turns it on)"
	}
	fmt.Fprintln(w, "Assistant: "+state)
	fmt.Fprintln(w)
	if len(st.Models) == 0 {
		fmt.Fprintln(w, "No model is set up: hks ai diagnose and the tools work, chats do not.")
	} else {
		rows := make([]map[string]any, 0, len(st.Models))
		for _, m := range st.Models {
			rows = append(rows, map[string]any{"provider": m.Provider, "model": m.Model, "default": yesNo(m.Default), "anonymize": yesNo(m.Anonymize)})
		}
		_ = Print(w, "table", rows, []Column{{"PROVIDER", "provider"}, {"MODEL", "model"}, {"DEFAULT", "default"}, {"ANONYMIZE", "anonymize"}})
	}
	if len(st.Tools) == 0 {
		return
	}
	fmt.Fprintln(w)
	rows := make([]map[string]any, 0, len(st.Tools))
	for _, t := range st.Tools {
		rows = append(rows, map[string]any{"name": t.Name, "effect": t.Effect, "description": abbreviate(t.Description, 100)})
	}
	_ = Print(w, "table", rows, []Column{{"TOOL", "name"}, {"EFFECT", "effect"}, {"DESCRIPTION", "description"}})
}

// aiUsageCmd is `hks ai usage`: the organization's usage ledger summed.
func aiUsageCmd(o *Options, s *scope) *cobra.Command {
	var since, until string
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show the organization's token use by meter, workspace, user and model (default: this month)",
		Example: `  hks ai usage --org acme
  hks ai usage --org acme --since 2026-11-01 --until 2026-12-01 -o json`,
		Args: cobra.NoArgs,
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
			q := url.Values{}
			for flag, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				t, err := parseDay(v)
				if err != nil {
					return fmt.Errorf("--%s: %w", flag, err)
				}
				q.Set(flag, t.Format(time.RFC3339))
			}
			path := s.orgPath() + "/usage"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			rep, err := aiGet[api.UsageReport](cmd.Context(), c, http.MethodGet, path, nil)
			if err != nil {
				return err
			}
			if !tableOutput(o) {
				return printTree(cmd.OutOrStdout(), o.Output, rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Usage from %s to %s\n", timeText(rep.Since), timeText(rep.Until))
			if len(rep.Totals) == 0 {
				fmt.Fprintln(w, "None.")
				return nil
			}
			rows := make([]map[string]any, 0, len(rep.Totals))
			for _, t := range rep.Totals {
				rows = append(rows, map[string]any{"meter": t.Meter, "workspace": t.WorkspaceID, "user": t.UserID, "subject": t.Subject, "quantity": itoa(t.Quantity)})
			}
			return Print(w, "table", rows, []Column{{"METER", "meter"}, {"WORKSPACE", "workspace"}, {"USER", "user"}, {"MODEL", "subject"}, {"QUANTITY", "quantity"}})
		}),
	}
	cmd.Flags().StringVar(&since, "since", "", "start: an RFC 3339 time or a date (YYYY-MM-DD, UTC); default: the server's (this month)")
	cmd.Flags().StringVar(&until, "until", "", "end: an RFC 3339 time or a date (YYYY-MM-DD, UTC); default: the server's (now)")
	return cmd
}

// parseDay reads an RFC 3339 time or a date (midnight UTC).
func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

// aiGet is apiCall with every string of the answer made safe for a
// terminal (termSafe): what the assistant's routes answer holds text from
// the model and the cluster.
func aiGet[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	v, err := apiCall[T](ctx, c, method, path, in)
	termSafe(&v)
	return v, err
}

// termSafe replaces, in every string v points to (fields, slices, maps),
// the control characters a terminal acts on (escape sequences that hide
// or rewrite what is shown, write the clipboard, …) and the bidirectional
// overrides by visible escapes, keeping line breaks and tabs: text from a
// model or a cluster must not change what the user sees of a plan.
func termSafe(v any) { termSafeValue(reflect.ValueOf(v)) }

func termSafeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			termSafeValue(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				termSafeValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // raw bytes (JSON), not text
		}
		for i := 0; i < v.Len(); i++ {
			termSafeValue(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			termSafeValue(e)
			v.SetMapIndex(k, e)
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(termSafeString(v.String()))
		}
	}
}

func termSafeString(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unsafeRune: C0 controls but line feed and tab, DEL, C1 controls, and
// the bidirectional embeddings, overrides and isolates.
func unsafeRune(r rune) bool {
	return r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// forgetChat deletes a chat that a refused first message left empty (best
// effort: what matters is the refusal the user sees).
func forgetChat(ctx context.Context, c *Client, chatPath string) {
	_ = c.Do(ctx, http.MethodDelete, chatPath, nil, nil)
}
