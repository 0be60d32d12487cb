package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// containerFlags are the flags of the one container of an application or
// of a CronJob's runs; the API's types describe it the same way in both.
type containerFlags struct {
	image                              string
	env, labels, args                  []string
	cpu, memory, cpuLimit, memoryLimit string
}

func (f *containerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "container image, e.g. nginx:1.27")
	fl.StringArrayVar(&f.env, "env", nil, "environment variable NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.args, "arg", nil, "an argument of the container (repeatable; the command comes after --)")
	fl.StringVar(&f.cpu, "cpu", "", "CPU request, e.g. 100m")
	fl.StringVar(&f.memory, "memory", "", "memory request, e.g. 64Mi")
	fl.StringVar(&f.cpuLimit, "cpu-limit", "", "CPU limit, e.g. 500m")
	fl.StringVar(&f.memoryLimit, "memory-limit", "", "memory limit, e.g. 256Mi")
	fl.StringArrayVar(&f.labels, "label", nil, "extra label KEY=VALUE (repeatable)")
}

// pair splits NAME=VALUE; flag names the flag in the error ("": an
// argument).
func pair(flag, kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		if flag == "" {
			return "", "", fmt.Errorf("%q: want NAME=VALUE", kv)
		}
		return "", "", fmt.Errorf("--%s %q: want NAME=VALUE", flag, kv)
	}
	return k, v, nil
}

func envVars(list []string) ([]api.EnvVar, error) {
	var out []api.EnvVar
	for _, kv := range list {
		k, v, err := pair("env", kv)
		if err != nil {
			return nil, err
		}
		out = append(out, api.EnvVar{Name: k, Value: v})
	}
	return out, nil
}

func labelMap(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, err := pair("label", kv)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// resources are the requests and limits of the flags, nil if none is set.
func (f *containerFlags) resources() *api.Resources {
	r := &api.Resources{Requests: api.ResourceList{CPU: f.cpu, Memory: f.memory},
		Limits: api.ResourceList{CPU: f.cpuLimit, Memory: f.memoryLimit}}
	if *r == (api.Resources{}) {
		return nil
	}
	return r
}

// containerChange is what the container flags given change, for a merge
// patch: nil where no flag was given.
type containerChange struct {
	image         *string
	command, args *[]string
	resources     *api.Resources
	labels        map[string]*string
}

func (f *containerFlags) containerChange(cmd *cobra.Command, args []string) (containerChange, error) {
	var c containerChange
	changed := cmd.Flags().Changed
	if changed("image") {
		c.image = &f.image
	}
	if command := commandAfterDash(cmd, args); command != nil {
		c.command = &command
	}
	if changed("arg") {
		c.args = &f.args
	}
	if _, err := mergeEnv(nil, "env", f.env); err != nil {
		return c, err
	}
	for _, kv := range f.labels {
		if key, ok := strings.CutSuffix(kv, "-"); ok && key != "" && !strings.Contains(kv, "=") {
			if c.labels == nil {
				c.labels = map[string]*string{}
			}
			c.labels[key] = nil
			continue
		}
		k, v, err := pair("label", kv)
		if err != nil {
			return c, fmt.Errorf("%w (or KEY- to remove one)", err)
		}
		if c.labels == nil {
			c.labels = map[string]*string{}
		}
		c.labels[k] = &v
	}
	c.resources = f.resources()
	return c, nil
}

// mergeEnv sets NAME=VALUE and removes NAME- in env, keeping the order.
// flag names the flag in errors ("": the list is arguments).
func mergeEnv(env []api.EnvVar, flag string, list []string) ([]api.EnvVar, error) {
	for _, kv := range list {
		if name, ok := strings.CutSuffix(kv, "-"); ok && name != "" && !strings.Contains(kv, "=") {
			env = deleteEnv(env, name)
			continue
		}
		k, v, err := pair(flag, kv)
		if err != nil {
			return nil, fmt.Errorf("%w (or NAME- to remove one)", err)
		}
		replaced := false
		for i := range env {
			if env[i].Name == k {
				env[i].Value, replaced = v, true
			}
		}
		if !replaced {
			env = append(env, api.EnvVar{Name: k, Value: v})
		}
	}
	return env, nil
}

func deleteEnv(env []api.EnvVar, name string) []api.EnvVar {
	out := env[:0]
	for _, e := range env {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}

// commandAfterDash is what follows -- on the command line: the
// container's command.
func commandAfterDash(cmd *cobra.Command, args []string) []string {
	if n := cmd.ArgsLenAtDash(); n >= 0 {
		return args[n:]
	}
	return nil
}

// nameAndCommand is the Args check of `create NAME [-- COMMAND...]`.
func nameAndCommand(cmd *cobra.Command, args []string) error {
	n := cmd.ArgsLenAtDash()
	if n < 0 {
		n = len(args)
	}
	if n != 1 {
		return fmt.Errorf("want one NAME before -- (the command comes after it), got %d", n)
	}
	return nil
}

// seconds turns a --flag duration into whole seconds; nil if not given.
func seconds(cmd *cobra.Command, flag string, d time.Duration, allowZero bool) (*int64, error) {
	if !cmd.Flags().Changed(flag) {
		return nil, nil
	}
	if d < 0 || (d == 0 && !allowZero) || d%time.Second != 0 {
		want := "a positive"
		if allowZero {
			want = "a non-negative"
		}
		return nil, fmt.Errorf("--%s %s: want %s whole number of seconds, e.g. 90s or 1h", flag, d, want)
	}
	n := int64(d / time.Second)
	return &n, nil
}

// int32Flag is the flag's value if it was given, checked to be in
// [min, max].
func int32Flag(cmd *cobra.Command, flag string, v, lo, hi int) (*int32, error) {
	if !cmd.Flags().Changed(flag) {
		return nil, nil
	}
	if v < lo {
		return nil, fmt.Errorf("--%s %d: must be %d or more", flag, v, lo)
	}
	if v > hi {
		return nil, fmt.Errorf("--%s %d: must be at most %d", flag, v, hi)
	}
	n := int32(v)
	return &n, nil
}

// readManifest reads -f FILE, or standard input for -f -.
func readManifest(cmd *cobra.Command, file string) (string, error) {
	if file == "" {
		return "", errors.New("-f FILE (or -f - for standard input) is required")
	}
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4<<20))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("read the manifest: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		if file == "-" {
			return "", errors.New("the manifest on standard input is empty")
		}
		return "", fmt.Errorf("the manifest %s is empty", file)
	}
	return string(b), nil
}

// query builds ?k=v&… of the non-empty values, in the order given.
func query(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, url.QueryEscape(kv[i])+"="+url.QueryEscape(kv[i+1]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "?" + strings.Join(parts, "&")
}

// itoaIf is n as text, or "" when the flag was not given.
func itoaIf(cmd *cobra.Command, flag string, n int) string {
	if !cmd.Flags().Changed(flag) {
		return ""
	}
	return strconv.Itoa(n)
}

// trueIf is "true" for b, else "" (left out of a query).
func trueIf(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// convert copies in into out through JSON, for two types that name the
// same members.
func convert(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
