package cli

import (
	"bytes"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/api"
)

func TestPrintUsage(t *testing.T) {
	counts := api.Counts{Applications: 2, Pods: 5, RunningPods: 5, CronJobs: 1, Services: 1}
	u := api.Usage{
		Quota:    map[string]api.QuotaUse{"pods": {Used: "5", Hard: "40"}, "requests.cpu": {Used: "300m"}},
		Counts:   counts,
		Projects: []api.Usage{{Project: "frontend", Quota: map[string]api.QuotaUse{}, Counts: counts}},
	}
	var b bytes.Buffer
	printUsage(&b, u)
	want := `RESOURCE      USED  HARD
pods          5     40
requests.cpu  300m  no limit

APPLICATIONS  PODS  RUNNING  CRONJOBS  JOBS  SERVICES
2             5     5        1         0     1

PROJECT   APPLICATIONS  PODS  RUNNING  CRONJOBS  JOBS  SERVICES
frontend  2             5     5        1         0     1
`
	if b.String() != want {
		t.Errorf("usage:\n%s\nwant:\n%s", b.String(), want)
	}
}
