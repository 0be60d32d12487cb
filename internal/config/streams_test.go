package config

import (
	"strings"
	"testing"
)

// TestStreamCapSettings: streamsPerUser and streamsPerWorkspace default
// to 64 and 96, come from flags or HKS_* variables, and must be from 1 to
// 100000.
func TestStreamCapSettings(t *testing.T) {
	d, err := load(t, nil, nil)
	if err != nil || d.StreamsPerUser != 64 || d.StreamsPerWorkspace != 96 {
		t.Fatalf("defaults %d, %d (%v), want 64, 96", d.StreamsPerUser, d.StreamsPerWorkspace, err)
	}
	c, err := load(t, []string{"--streams-per-user", "8"}, map[string]string{"HKS_STREAMS_PER_WORKSPACE": "12"})
	if err != nil || c.StreamsPerUser != 8 || c.StreamsPerWorkspace != 12 {
		t.Fatalf("set: %d, %d (%v), want 8, 12", c.StreamsPerUser, c.StreamsPerWorkspace, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--streams-per-user", "0"}, "config: streamsPerUser:"},
		{[]string{"--streams-per-user", "100001"}, "config: streamsPerUser:"},
		{[]string{"--streams-per-workspace", "-1"}, "config: streamsPerWorkspace:"},
		{[]string{"--streams-per-workspace", "many"}, "config: --streams-per-workspace: must be an integer"},
	} {
		if _, err := load(t, tc.args, nil); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestLiveLimitSettings: liveConnectionsPerUser and
// liveSubscriptionsPerConnection default to 8 and 32, come from flags or
// HKS_* variables, and must be from 1 to 10000.
func TestLiveLimitSettings(t *testing.T) {
	d, err := load(t, nil, nil)
	if err != nil || d.LiveConnectionsPerUser != 8 || d.LiveSubscriptionsPerConnection != 32 {
		t.Fatalf("defaults %d, %d (%v), want 8, 32", d.LiveConnectionsPerUser, d.LiveSubscriptionsPerConnection, err)
	}
	c, err := load(t, []string{"--live-connections-per-user", "2"}, map[string]string{"HKS_LIVE_SUBSCRIPTIONS_PER_CONNECTION": "5"})
	if err != nil || c.LiveConnectionsPerUser != 2 || c.LiveSubscriptionsPerConnection != 5 {
		t.Fatalf("set: %d, %d (%v), want 2, 5", c.LiveConnectionsPerUser, c.LiveSubscriptionsPerConnection, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--live-connections-per-user", "0"}, "config: liveConnectionsPerUser:"},
		{[]string{"--live-subscriptions-per-connection", "10001"}, "config: liveSubscriptionsPerConnection:"},
	} {
		if _, err := load(t, tc.args, nil); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
