package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Headers of an event message and of the request a function gets for it.
const (
	HeaderTopic   = "X-Hks-Topic"
	HeaderEventID = "X-Hks-Event-Id"
	// maxDeadLetterPayload caps the payload kept in a dead letter.
	maxDeadLetterPayload = 64 << 10
	maxErrorLen          = 4000
	consumerPrefix       = "fntrig_"
	fetchWait            = 5 * time.Second
)

// Subject is the subject events of a project's topic are published on.
func Subject(projectID, topic string) string { return SubjectPrefix + "." + projectID + "." + topic }

// ConsumerName is the durable consumer of an event trigger.
func ConsumerName(triggerID string) string { return consumerPrefix + triggerID }

// EventInvocationID is the invocation id of an event's attempt at a
// trigger: the event id and the trigger id, and the attempt from the
// second on.
func EventInvocationID(eventID, triggerID string, attempt int) string {
	id := eventID + "-" + triggerID
	if attempt > 1 {
		id += "-" + strconv.Itoa(attempt)
	}
	return id
}

// MsgID is the JetStream message id of a project's event: the stream's
// duplicate window is per stream, so the project is part of it and one
// project's event ids never shadow another's.
func MsgID(projectID, eventID string) string { return projectID + "." + eventID }

// Publish puts an event on a project's topic. eventID names it ("" makes
// one): publishing the same id again in the same project within the
// stream's duplicate window (2 minutes) is dropped, and the answer says
// Duplicate. It returns the event id and how many triggers subscribe to
// the topic.
func (s *Service) Publish(ctx context.Context, projectID, topic, eventID string, payload []byte) (api.PublishEventResponse, error) {
	if err := ValidTopic(topic); err != nil {
		return api.PublishEventResponse{}, err
	}
	if err := messaging.ValidToken(projectID); err != nil {
		return api.PublishEventResponse{}, fmt.Errorf("project id: %w", err)
	}
	if eventID == "" {
		eventID = store.NewID()
	} else if err := messaging.ValidToken(eventID); err != nil {
		return api.PublishEventResponse{}, fmt.Errorf("event id: %w", err)
	}
	if len(payload) > MaxEventBytes {
		return api.PublishEventResponse{}, fmt.Errorf("event payload: %d bytes, more than %d", len(payload), MaxEventBytes)
	}
	n, err := s.st.CountEventTriggers(ctx, projectID, topic)
	if err != nil {
		return api.PublishEventResponse{}, fmt.Errorf("count event triggers: %w", err)
	}
	msg := &nats.Msg{Subject: Subject(projectID, topic), Data: payload, Header: nats.Header{}}
	msg.Header.Set(HeaderTopic, topic)
	msg.Header.Set(HeaderEventID, eventID)
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(MsgID(projectID, eventID)), jetstream.WithExpectStream(StreamName))
	if err != nil {
		return api.PublishEventResponse{}, fmt.Errorf("publish event: %w", err)
	}
	return api.PublishEventResponse{ID: eventID, Topic: topic, Handlers: n, Duplicate: ack.Duplicate}, nil
}

// consumerLoop is the goroutine fetching one trigger's events.
type consumerLoop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// ensureConsumer creates the durable consumer of an event trigger if it is
// missing; it delivers events published from then on.
func (s *Service) ensureConsumer(ctx context.Context, t store.FunctionTrigger) (jetstream.Consumer, error) {
	name := ConsumerName(t.ID)
	c, err := s.js.Consumer(ctx, StreamName, name)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("look up consumer %s: %w", name, err)
	}
	c, err = s.js.CreateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "hks event trigger " + t.Name + " of function " + t.FunctionName,
		FilterSubject: Subject(t.ProjectID, t.Topic),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.AckWait,
		// Attempts are counted here (MaxAttempts); JetStream must not give
		// up by itself.
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", name, err)
	}
	return c, nil
}

// deleteConsumer stops and deletes an event trigger's consumer; a missing
// one is not an error.
func (s *Service) deleteConsumer(ctx context.Context, triggerID string) error {
	s.stopConsumer(triggerID)
	err := s.js.DeleteConsumer(ctx, StreamName, ConsumerName(triggerID))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer of trigger %s: %w", triggerID, err)
	}
	return nil
}

// startConsumer runs the fetch loop of t's consumer unless it runs already
// or Run has not started.
func (s *Service) startConsumer(t store.FunctionTrigger, c jetstream.Consumer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.runCtx.Err() != nil {
		return
	}
	if _, ok := s.consumers[t.ID]; ok {
		return
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	l := &consumerLoop{cancel: cancel, done: make(chan struct{})}
	s.consumers[t.ID] = l
	go func() {
		defer close(l.done)
		s.consume(ctx, t.ID, c)
	}()
}

func (s *Service) stopConsumer(triggerID string) {
	s.mu.Lock()
	l, ok := s.consumers[triggerID]
	delete(s.consumers, triggerID)
	s.mu.Unlock()
	if ok {
		l.cancel()
		<-l.done
	}
}

func (s *Service) stopConsumers() {
	s.mu.Lock()
	ids := make([]string, 0, len(s.consumers))
	for id := range s.consumers {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.stopConsumer(id)
	}
}

// running lists the triggers whose consumer loop runs here.
func (s *Service) running() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.consumers))
	for id := range s.consumers {
		out[id] = true
	}
	return out
}

// reconcile makes the consumers match the store's event triggers: missing
// ones are created and run, those of deleted triggers (or functions) are
// stopped and deleted.
func (s *Service) reconcile(ctx context.Context) error {
	trigs, err := s.st.ListFunctionTriggersByKind(ctx, store.FunctionTriggerEvent)
	if err != nil {
		return fmt.Errorf("list event triggers: %w", err)
	}
	want := make(map[string]bool, len(trigs))
	var errs []error
	for _, t := range trigs {
		want[t.ID] = true
		c, err := s.ensureConsumer(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.startConsumer(t, c)
	}
	var stale []string
	stream, err := s.js.Stream(ctx, StreamName)
	if err != nil {
		errs = append(errs, fmt.Errorf("look up stream %s: %w", StreamName, err))
	} else {
		names := stream.ConsumerNames(ctx)
		for name := range names.Name() {
			if id, ok := strings.CutPrefix(name, consumerPrefix); ok && !want[id] {
				stale = append(stale, id)
			}
		}
		if err := names.Err(); err != nil {
			errs = append(errs, fmt.Errorf("list consumers: %w", err))
		}
	}
	for id := range s.running() {
		if !want[id] {
			stale = append(stale, id)
		}
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(stale))) {
		// Made after the list was read (here or elsewhere)? Then it stays.
		if _, err := s.st.GetFunctionTriggerByID(ctx, id); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		s.log.Info("deleting the consumer of a deleted event trigger", "trigger", id)
		if err := s.deleteConsumer(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// consume fetches one trigger's events one at a time until ctx ends or
// the consumer is deleted.
func (s *Service) consume(ctx context.Context, triggerID string, c jetstream.Consumer) {
	for ctx.Err() == nil {
		// Canceling ctx abandons the pull request at once.
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		batch, err := c.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				return
			}
			if ctx.Err() == nil {
				s.log.Warn("fetch events", "trigger", triggerID, "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				_ = msg.Nak()
				continue
			}
			s.handleEvent(ctx, triggerID, msg)
		}
		cancel()
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				return
			}
			s.log.Warn("fetch events", "trigger", triggerID, "err", err)
			sleep(ctx, time.Second)
		}
	}
}

// handleEvent delivers one event to one trigger's function. Attempts
// 1..n, n = this delivery's number (at most MaxAttempts), run in order;
// those recorded before return their record at once, so only the first
// unrecorded one runs. A success acknowledges; a failure of the last
// attempt is a dead letter; otherwise the event comes back after the
// backoff.
func (s *Service) handleEvent(ctx context.Context, triggerID string, msg jetstream.Msg) {
	log := s.log.With("trigger", triggerID, "subject", msg.Subject())
	eventID := msg.Headers().Get(HeaderEventID)
	topic := msg.Headers().Get(HeaderTopic)
	meta, err := msg.Metadata()
	if err != nil || eventID == "" || topic == "" {
		log.Error("dropping malformed event message", "err", err)
		_ = msg.Term()
		return
	}
	log = log.With("event", eventID)
	t, err := s.st.GetFunctionTriggerByID(ctx, triggerID)
	if errors.Is(err, store.ErrNotFound) {
		_ = msg.Term()
		return
	}
	if err != nil {
		log.Error("load event trigger", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	stop := keepAlive(msg, s.cfg.AckWait)
	defer stop()
	req := engine.Request{Method: "POST", Path: "/", Headers: map[string][]string{
		HeaderTopic:   {topic},
		HeaderEventID: {eventID},
	}, Body: msg.Data()}
	if ct := msg.Headers().Get("Content-Type"); ct != "" {
		req.Headers["Content-Type"] = []string{ct}
	}
	last := min(int(meta.NumDelivered), s.cfg.MaxAttempts)
	lastErr := ""
	for attempt := 1; attempt <= last; attempt++ {
		inv, err := s.fns.InvokeAs(ctx, refOf(t), t.Alias, TriggerEvent, EventInvocationID(eventID, t.ID, attempt), req)
		if errors.Is(err, store.ErrNotFound) {
			log.Info("event trigger's function is gone; dropping the event")
			_ = msg.Term()
			return
		}
		if err != nil {
			if ctx.Err() != nil {
				_ = msg.Nak() // stopping: not the function's fault
				return
			}
			// Never ran (busy, an alias that does not exist): this
			// delivery counts as an attempt.
			if int(meta.NumDelivered) < s.cfg.MaxAttempts {
				delay := s.cfg.Backoff(int(meta.NumDelivered))
				log.Warn("event not handed to the function; retrying", "delivery", meta.NumDelivered, "in", delay, "err", err)
				_ = msg.NakWithDelay(delay)
				return
			}
			log.Warn("event not handed to the function on its last attempt", "err", err)
			s.deadLetter(ctx, t, msg, topic, eventID, notRunReason(err), log)
			return
		}
		if inv.Status == "succeeded" {
			logInvocation(log, inv)
			ack(ctx, msg, log)
			return
		}
		lastErr = inv.Error
		if lastErr == "" {
			lastErr = "exit reason " + inv.ExitReason
		}
	}
	if last < s.cfg.MaxAttempts {
		delay := s.cfg.Backoff(last)
		log.Info("event handler failed; retrying", "attempt", last, "in", delay, "error", lastErr)
		_ = msg.NakWithDelay(delay)
		return
	}
	s.deadLetter(ctx, t, msg, topic, eventID, lastErr, log)
}

// deadLetter records the event as one t failed to handle and terminates
// its message.
func (s *Service) deadLetter(ctx context.Context, t store.FunctionTrigger, msg jetstream.Msg, topic, eventID, lastErr string, log *slog.Logger) {
	payload := msg.Data()
	if len(payload) > maxDeadLetterPayload {
		payload = payload[:maxDeadLetterPayload]
	}
	d := store.FunctionDeadLetter{ID: store.NewID(), FunctionID: t.FunctionID, TriggerName: t.Name, Topic: topic, EventID: eventID,
		Attempts: s.cfg.MaxAttempts, LastError: capText(lastErr, maxErrorLen), Payload: strings.ToValidUTF8(string(payload), "\uFFFD"), CreatedAt: s.cfg.Now().UTC()}
	if err := s.st.CreateFunctionDeadLetter(ctx, d); err != nil {
		log.Error("record dead letter", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	log.Warn("event handler failed its last attempt; dead-lettered", "attempts", s.cfg.MaxAttempts, "error", lastErr)
	if err := msg.Term(); err != nil {
		log.Warn("terminate event message", "err", err)
	}
}

// notRunReason is what a dead letter says of a last attempt that never
// reached the handler: a sentence per kind of failure, never the error's
// text (host paths, sandbox messages, a secret's name), which is logged.
// A build error keeps the runtime's message, the developer's to read.
func notRunReason(err error) string {
	var busy *engine.ErrBusy
	var be *engine.BuildError
	var he *httpapi.Error
	switch {
	case errors.As(err, &busy):
		return "the call did not run: every instance was busy and the queue full"
	case errors.Is(err, engine.ErrUnavailable):
		return "the call did not run: the runtime is not available on this platform"
	case errors.As(err, &be):
		return "the call did not run: the code did not build: " + be.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "the call did not run: it timed out"
	case errors.As(err, &he) && he.Status < 500:
		return "the call did not run: " + he.Detail // such as "alias not found"
	default:
		return "the call did not run because of an internal error (the platform's log has the cause)"
	}
}

func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func ack(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("acknowledge event", "err", err)
	}
}

// keepAlive tells JetStream the message is being worked on every third of
// ackWait until the returned function is called.
func keepAlive(msg jetstream.Msg, ackWait time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(max(ackWait/3, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = msg.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
