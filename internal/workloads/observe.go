package workloads

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

// listPods pages through the application's pods by name.
func (s *Service) listPods(r *http.Request) (any, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	a, err := s.appWithPods(r)
	if err != nil {
		return nil, err
	}
	items, next, err := pageOf(a.Pods, page, func(p api.Pod) string { return p.Name })
	if err != nil {
		return nil, err
	}
	return httpapi.NewList(items, next), nil
}

func (s *Service) appWithPods(r *http.Request) (api.Application, error) {
	name, ac, err := s.apps.Target(r)
	if err != nil {
		return api.Application{}, err
	}
	return s.getApp(r.Context(), ac, name, true)
}

// belongsTo: the object is the Deployment, one of its ReplicaSets or one
// of their pods (names derived from the Deployment's).
func belongsTo(app string, ref corev1.ObjectReference) bool {
	switch ref.Kind {
	case "Deployment":
		return ref.Name == app
	case "ReplicaSet", "Pod":
		return strings.HasPrefix(ref.Name, app+"-")
	}
	return false
}

func (s *Service) listEvents(r *http.Request) (any, error) {
	name, ac, err := s.apps.Target(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if _, err := ac.C.Kube.AppsV1().Deployments(ac.NS).Get(ctx, name, metav1.GetOptions{}); err != nil {
		return nil, kube.NotFoundOr(err, "application")
	}
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	// The namespace's events (the cluster keeps them an hour), in pages of
	// its own; involvedObject field selectors match exact names only.
	var all []corev1.Event
	for cont := ""; ; {
		l, err := ac.C.Kube.CoreV1().Events(ac.NS).List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
		if err != nil {
			return nil, kube.Error(err)
		}
		for _, e := range l.Items {
			if belongsTo(name, e.InvolvedObject) {
				all = append(all, e)
			}
		}
		if cont = l.Continue; cont == "" || len(all) >= maxEvents {
			break
		}
	}
	out := []keyedEvent{}
	for _, e := range all {
		last := e.LastTimestamp.Time
		if last.IsZero() {
			last = e.EventTime.Time
		}
		if last.IsZero() {
			last = e.CreationTimestamp.Time
		}
		count := e.Count
		if count == 0 {
			count = 1
		}
		out = append(out, keyedEvent{key: eventKey(last, e.Name), ev: api.Event{Type: e.Type, Reason: e.Reason, Message: e.Message,
			Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name, Count: count, LastSeen: last.UTC()}})
	}
	slices.SortFunc(out, func(a, b keyedEvent) int { return strings.Compare(a.key, b.key) })
	items, next, err := pageOf(out, page, func(e keyedEvent) string { return e.key })
	if err != nil {
		return nil, err
	}
	evs := make([]api.Event, len(items))
	for i, e := range items {
		evs[i] = e.ev
	}
	return httpapi.NewList(evs, next), nil
}

// keyedEvent is an event with its place in the list's order (the cursor).
type keyedEvent struct {
	key string
	ev  api.Event
}

// maxEvents bounds the events of one application read per request.
const maxEvents = 5000

// eventKey orders events by when they were last seen, then by name (unique
// in the namespace): a fixed-width UTC time sorts as text.
func eventKey(last time.Time, name string) string {
	return last.UTC().Format("20060102T150405.000000000Z") + "/" + name
}

// logs streams a pod's log as text: ?pod= (default: the first pod),
// ?container=, ?follow=true, ?tail_lines=, ?since_seconds=, ?timestamps=true.
func (s *Service) logs(w http.ResponseWriter, r *http.Request) {
	if err := s.streamLogs(w, r); err != nil {
		httpapi.WriteError(w, r, err)
	}
}

func (s *Service) streamLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opts := &corev1.PodLogOptions{Container: q.Get("container")}
	var fields []api.FieldError
	boolParam := func(name string, dst *bool) {
		switch v := q.Get(name); v {
		case "", "false", "0":
		case "true", "1":
			*dst = true
		default:
			fields = append(fields, httpapi.Field(name, "must be true or false"))
		}
	}
	intParam := func(name string, max int64) *int64 {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > max {
			fields = append(fields, httpapi.Field(name, fmt.Sprintf("must be an integer from 1 to %d", max)))
			return nil
		}
		return &n
	}
	boolParam("follow", &opts.Follow)
	boolParam("timestamps", &opts.Timestamps)
	opts.TailLines = intParam("tail_lines", 100000)
	opts.SinceSeconds = intParam("since_seconds", 30*24*3600)
	if len(fields) > 0 {
		return httpapi.Invalid(fields...)
	}
	if opts.Follow {
		// A followed log holds an inotify instance in the workspace's
		// kwok for as long as it is open, from a budget every workspace
		// on the machine shares: at most so many per user at once,
		// refused before anything reaches the cluster.
		p, _ := httpapi.PrincipalFrom(r.Context())
		release, ok := s.streams.Acquire(p.UserID)
		if !ok {
			return s.streams.TooManyOpen(p.UserID, "long-lived requests (followed logs, and watches, exec, attach, port-forward through the workspace gateway) of this user")
		}
		defer release()
	}
	a, err := s.appWithPods(r)
	if err != nil {
		return err
	}
	pod := q.Get("pod")
	if pod == "" {
		if len(a.Pods) == 0 {
			return httpapi.Conflict("", "the application has no pods")
		}
		pod = a.Pods[0].Name
	} else if !slices.ContainsFunc(a.Pods, func(p api.Pod) bool { return p.Name == pod }) {
		return httpapi.NotFound("pod " + strconv.Quote(pod) + " of the application")
	}
	ac, err := s.apps.Project(r)
	if err != nil {
		return err
	}
	rc, err := ac.C.Kube.CoreV1().Pods(ac.NS).GetLogs(pod, opts).Stream(r.Context())
	if apierrors.IsInternalError(err) {
		// The API server answered, but could not get the logs from the
		// pod's node: the kubelet's side, not the caller's or ours.
		return &httpapi.Error{Status: http.StatusBadGateway, Type: "node-unreachable", Title: "Node unreachable",
			Detail: "the workspace cluster could not fetch the logs of pod " + strconv.Quote(pod) +
				" from its node; retry in a moment", Cause: err}
	}
	if err != nil {
		return kube.Error(err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the client went away
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if errors.Is(err, io.EOF) || r.Context().Err() != nil {
			return nil
		}
		if err != nil {
			s.cfg.Logger.WarnContext(r.Context(), "log stream ended", "pod", pod, "err", err)
			return nil
		}
	}
}
