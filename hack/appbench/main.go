// Command appbench measures applications through the API on a real
// workspace cluster: the time from POST …/applications to the first GET
// that shows the application ready (its replicas Running and Ready on the
// simulated nodes), and the latency of the list endpoints with -n
// applications in one project.
//
//	go run ./hack/appbench -n 200 -timed 100 -lists 200
//
// It starts the whole platform in-process (hack/internal/platform) on a
// temp data dir, with the pinned Kubernetes binaries, and removes it at the
// end. Measure on an idle machine: the workspace's processes share its
// cores with the platform.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
)

func main() {
	n := flag.Int("n", 200, "applications in the project")
	timed := flag.Int("timed", 100, "of them, created one at a time and timed to ready (the rest are created 4 at a time)")
	lists := flag.Int("lists", 200, "requests per list endpoint")
	replicas := flag.Int("replicas", 1, "replicas per application")
	binDir := flag.String("k8s-bin-dir", "", "binaries (default: the make k8s-bins cache)")
	flag.Parse()
	if *timed > *n || *n < 1 || *lists < 1 || *replicas < 1 {
		fail(fmt.Errorf("want 1 <= -timed <= -n, -lists >= 1, -replicas >= 1"))
	}
	ctx := context.Background()
	pl, err := platform.Start(ctx, platform.Options{Configure: func(c *config.Config) {
		c.K8sBinDir = *binDir
		// One client's burst of polls.
		platform.Unthrottled(c)
	}, Timeout: 2 * time.Minute})
	if err != nil {
		fail(err)
	}
	defer func() {
		if err := pl.Stop(); err != nil {
			fail(err)
		}
	}()
	org, err := pl.Create(ctx, "/api/v1/organizations", map[string]string{"name": "Bench"}, http.StatusCreated)
	if err != nil {
		fail(err)
	}
	wsPath := "/api/v1/organizations/" + org + "/workspaces"
	ws, err := pl.Create(ctx, wsPath, map[string]string{"name": "bench"}, http.StatusAccepted)
	if err != nil {
		fail(err)
	}
	wsPath += "/" + ws
	for {
		var w struct {
			Status string `json:"status"`
		}
		if err := pl.Expect(ctx, http.MethodGet, wsPath, pl.Token, nil, http.StatusOK, &w); err != nil {
			fail(err)
		}
		if w.Status == "running" {
			break
		}
		if w.Status == "failed" {
			fail(fmt.Errorf("workspace failed"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Room for every pod: the default quota holds 40.
	quota := api.Quota{Pods: 2 * *n * *replicas, CPU: fmt.Sprint(*n * *replicas), Memory: fmt.Sprintf("%dGi", *n**replicas)}
	if _, err := pl.Create(ctx, wsPath+"/projects", map[string]any{"name": "bench", "quota": quota}, http.StatusCreated); err != nil {
		fail(err)
	}
	apps := wsPath + "/projects/bench/applications"
	// The default service account must exist before pods can be made.
	waitFor(func() bool {
		code, err := pl.Do(ctx, http.MethodGet, apps, pl.Token, nil, nil)
		return err == nil && code == http.StatusOK
	})

	r := int32(*replicas)
	create := func(i int) {
		req := api.CreateApplicationRequest{Name: fmt.Sprintf("app-%03d", i),
			AppSpec: api.AppSpec{Image: "nginx", Replicas: &r, Ports: []api.Port{{ContainerPort: 80}}}}
		if err := pl.Expect(ctx, http.MethodPost, apps, pl.Token, req, http.StatusCreated, nil); err != nil {
			fail(err)
		}
	}
	ready := func(i int) bool {
		var a api.Application
		if err := pl.Expect(ctx, http.MethodGet, fmt.Sprintf("%s/app-%03d", apps, i), pl.Token, nil, http.StatusOK, &a); err != nil {
			fail(err)
		}
		return a.Status.Ready
	}
	var toReady, createOnly []time.Duration
	for i := range *timed {
		start := time.Now()
		create(i)
		createOnly = append(createOnly, time.Since(start))
		for !ready(i) {
			time.Sleep(20 * time.Millisecond)
		}
		toReady = append(toReady, time.Since(start))
	}
	report(fmt.Sprintf("POST …/applications answered (n=%d, %d replica each)", *timed, *replicas), createOnly)
	report(fmt.Sprintf("application create to ready (n=%d)", *timed), toReady)

	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				create(i)
			}
		})
	}
	for i := *timed; i < *n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	waitFor(func() bool {
		var l api.List[api.Application]
		if err := pl.Expect(ctx, http.MethodGet, apps+"?limit=500", pl.Token, nil, http.StatusOK, &l); err != nil {
			fail(err)
		}
		for _, a := range l.Items {
			if !a.Status.Ready {
				return false
			}
		}
		return len(l.Items) == *n
	})
	fmt.Printf("%d applications ready in the project\n", *n)

	get := func(path string) func() {
		return func() {
			if err := pl.Expect(ctx, http.MethodGet, path, pl.Token, nil, http.StatusOK, nil); err != nil {
				fail(err)
			}
		}
	}
	walk := func() {
		cursor := ""
		count := 0
		for {
			var l api.List[api.Application]
			path := apps + "?limit=50"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			if err := pl.Expect(ctx, http.MethodGet, path, pl.Token, nil, http.StatusOK, &l); err != nil {
				fail(err)
			}
			count += len(l.Items)
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
		}
		if count != *n {
			fail(fmt.Errorf("walked %d applications, want %d", count, *n))
		}
	}
	for _, e := range []struct {
		name string
		do   func()
	}{
		{"GET …/applications (first page, 50)", get(apps)},
		{fmt.Sprintf("GET …/applications?limit=500 (all %d)", *n), get(apps + "?limit=500")},
		{fmt.Sprintf("all pages of 50 (%d requests)", (*n+49)/50), walk},
		{"GET …/applications/{app} (with pods)", get(apps + "/app-000")},
		{"GET …/applications/{app}/pods", get(apps + "/app-000/pods")},
		{"GET …/projects/{project}/usage", get(wsPath + "/projects/bench/usage")},
		{"GET …/workspaces/{workspace}/usage", get(wsPath + "/usage")},
		{"GET …/cronjobs (empty)", get(wsPath + "/projects/bench/cronjobs")},
	} {
		ds := make([]time.Duration, 0, *lists)
		e.do() // warm caches and connections
		for range *lists {
			start := time.Now()
			e.do()
			ds = append(ds, time.Since(start))
		}
		report(e.name+fmt.Sprintf(" x%d", *lists), ds)
	}
}

func waitFor(ok func() bool) {
	deadline := time.Now().Add(10 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			fail(fmt.Errorf("timed out"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func report(what string, ds []time.Duration) {
	slices.Sort(ds)
	pct := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	r := func(d time.Duration) time.Duration {
		if d < 10*time.Millisecond {
			return d.Round(10 * time.Microsecond)
		}
		return d.Round(time.Millisecond)
	}
	fmt.Printf("%s: p50 %s p99 %s max %s\n", what, r(pct(0.5)), r(pct(0.99)), r(ds[len(ds)-1]))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "appbench:", err)
	os.Exit(1)
}
