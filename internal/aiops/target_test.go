package aiops

import (
	"context"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// TestHandlerTransportAnswersRefusals: a client over handlerTransport
// gets the handler's refusal at once (no hang, no retry loop).
func TestHandlerTransportAnswersRefusals(t *testing.T) {
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("no token: %v", r.Header)
		}
		httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusBadGateway, Type: "workspace-unreachable", Title: "Bad gateway", Detail: "down"})
	})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: "http://platform.invalid/k8s/ws", BearerToken: "tok", Transport: handlerTransport{h: h}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cs.CoreV1().Pods("p").List(ctx, metav1.ListOptions{})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("list: %v (ctx %v)", err, ctx.Err())
	}
	if calls != 1 {
		t.Fatalf("%d calls", calls)
	}
}
