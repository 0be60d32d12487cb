package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	// StreamName is the JetStream stream holding recent events.
	StreamName = "EVENTS"
	// SubjectPrefix starts every event subject: hks.events.<org>.<type>.
	SubjectPrefix = "hks.events"
	// PlatformOrg is the org token of events that belong to no organization.
	PlatformOrg = "_platform"

	defaultMaxAge   = 24 * time.Hour
	defaultMaxBytes = 1 << 30
	notifyTimeout   = 5 * time.Second

	// InactiveThreshold is how long JetStream keeps the consumer of a
	// follower that stopped (or whose process died) before removing it.
	// Its default for ordered consumers is 5 minutes, during which a
	// stopped follower still counts against the stream's consumer limit
	// (1,000 by default): followers that come and go quickly would fill
	// it. An active follower keeps a pull request pending, so this does
	// not end it.
	InactiveThreshold = 5 * time.Second
)

// Event is a state change, published as JSON.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OrgID      string          `json:"org_id,omitempty"`
	ResourceID string          `json:"resource_id,omitempty"`
	Time       time.Time       `json:"time"`
	Data       json.RawMessage `json:"data,omitempty"`
	// Seq is the event's sequence number in the EVENTS stream, set on
	// the events a Subscription delivers (0 on what Publish returns):
	// increasing in the order events were stored, so a follower that
	// remembers the last one it saw resumes with Filter.AfterSeq without
	// duplicates or gaps. It is not part of the JSON envelope.
	Seq uint64 `json:"-"`
}

// ErrResumeTooOld is returned by Subscribe when Filter.AfterSeq cannot be
// resumed from without a gap: events after it have been discarded (the
// stream keeps MaxAge and MaxBytes), or the sequence was never handed
// out by this stream (a stream that was recreated). The follower must
// read the current state again.
var ErrResumeTooOld = errors.New("events: cannot resume from this sequence without a gap")

// Config carries the publisher's dependencies.
type Config struct {
	JS     jetstream.JetStream
	Logger *slog.Logger
	Now    func() time.Time
	// MaxAge is how long events are kept for replay (default 24h).
	MaxAge time.Duration
	// MaxBytes caps the stream; the oldest events go first (default 1 GiB).
	MaxBytes int64
	// Replicas of the stream on a NATS cluster (default 1).
	Replicas int
}

// Publisher publishes events and lets followers subscribe to them.
type Publisher struct {
	js  jetstream.JetStream
	log *slog.Logger
	now func() time.Time
}

// New creates or updates the EVENTS stream and returns a Publisher.
func New(ctx context.Context, cfg Config) (*Publisher, error) {
	if err := required.Fields("events", cfg, "JS", "Logger", "Now"); err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxAge < 0, cfg.MaxBytes < 0, cfg.Replicas < 0:
		return nil, errors.New("events: MaxAge, MaxBytes and Replicas must not be negative")
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = defaultMaxAge
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = defaultMaxBytes
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	_, err := cfg.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "hks state-change events, kept for replay by followers",
		Subjects:    []string{SubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		Duplicates:  2 * time.Minute,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	return &Publisher{js: cfg.JS, log: cfg.Logger, now: cfg.Now}, nil
}

// Subject returns the subject of events of eventType in orgID ("" for
// platform events). It refuses org ids and types that are not plain
// subject tokens.
func Subject(orgID, eventType string) (string, error) {
	org, err := orgToken(orgID)
	if err != nil {
		return "", err
	}
	if err := messaging.ValidPath(eventType); err != nil {
		return "", fmt.Errorf("event type: %w", err)
	}
	return SubjectPrefix + "." + org + "." + eventType, nil
}

func orgToken(orgID string) (string, error) {
	if orgID == "" {
		return PlatformOrg, nil
	}
	if orgID == PlatformOrg {
		return "", fmt.Errorf("org id: %w: %q is reserved", messaging.ErrInvalidToken, orgID)
	}
	if err := messaging.ValidToken(orgID); err != nil {
		return "", fmt.Errorf("org id: %w", err)
	}
	return orgID, nil
}

// Publish publishes an event and returns it once JetStream has stored it.
// data is marshalled to JSON unless it is already a json.RawMessage; nil
// means no data.
func (p *Publisher) Publish(ctx context.Context, orgID, eventType, resourceID string, data any) (Event, error) {
	subj, err := Subject(orgID, eventType)
	if err != nil {
		return Event{}, err
	}
	ev := Event{
		ID:         store.NewID(),
		Type:       eventType,
		OrgID:      orgID,
		ResourceID: resourceID,
		Time:       p.now().UTC(),
	}
	switch d := data.(type) {
	case nil:
	case json.RawMessage:
		ev.Data = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return Event{}, fmt.Errorf("marshal event data: %w", err)
		}
		ev.Data = b
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return Event{}, fmt.Errorf("marshal event: %w", err)
	}
	if _, err := p.js.Publish(ctx, subj, body, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(StreamName)); err != nil {
		return Event{}, fmt.Errorf("publish event %s: %w", eventType, err)
	}
	return ev, nil
}

// Notify publishes an event and logs instead of failing: the state change
// it reports is already stored. It is not cut short when ctx is canceled
// (a request that finished), only bounded by a timeout.
func (p *Publisher) Notify(ctx context.Context, orgID, eventType, resourceID string, data any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	if _, err := p.Publish(ctx, orgID, eventType, resourceID, data); err != nil {
		p.log.WarnContext(ctx, "publish event failed", "org", orgID, "type", eventType, "resource", resourceID, "err", err)
	}
}

// Filter selects the events a follower receives.
type Filter struct {
	// OrgID whose events to follow; "" follows platform events.
	OrgID string
	// AllOrgs follows the events of every organization and the platform
	// (OrgID must then be empty). It is for platform components such as
	// the control-plane reconciler, never for a user's follower.
	AllOrgs bool
	// Types to receive, exact ("task.status") or by prefix ("workspace.>");
	// empty means every type.
	Types []string
	// ResourceID, if set, keeps only events about this resource.
	ResourceID string
	// Since replays stored events from this time on before following new
	// ones; the zero time follows new events only.
	Since time.Time
	// AfterSeq, if not 0, replays the stored events whose Seq is greater
	// than it before following new ones: a follower passes the Seq of
	// the last event it saw (exclusive with Since). Subscribe answers
	// ErrResumeTooOld when the stream no longer holds every event after
	// it.
	AfterSeq uint64
}

func (f Filter) subjects() ([]string, error) {
	var org string
	if f.AllOrgs {
		if f.OrgID != "" {
			return nil, errors.New("event filter: OrgID and AllOrgs are exclusive")
		}
		org = "*"
	} else {
		var err error
		if org, err = orgToken(f.OrgID); err != nil {
			return nil, err
		}
	}
	base := SubjectPrefix + "." + org + "."
	if len(f.Types) == 0 {
		return []string{base + ">"}, nil
	}
	subs := make([]string, 0, len(f.Types))
	for _, t := range f.Types {
		path, wild := strings.CutSuffix(t, ".>")
		if err := messaging.ValidPath(path); err != nil {
			return nil, fmt.Errorf("event type filter: %w", err)
		}
		if wild {
			path += ".>"
		}
		subs = append(subs, base+path)
	}
	return subs, nil
}

// Subscription delivers the events of a Subscribe call in the order they
// were stored.
type Subscription struct {
	ch     chan Event
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// Events returns the channel of events. It is closed when the
// subscription's context ends, Close is called, or following fails (see Err).
func (s *Subscription) Events() <-chan Event { return s.ch }

// Err returns why the channel was closed: nil after Close or the end of
// the context, the failure otherwise. Call it after the channel is closed.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the subscription and waits for its channel to close.
func (s *Subscription) Close() {
	s.cancel()
	<-s.done
}

// Subscribe follows the events that match f until ctx ends or Close is
// called. It uses an ephemeral ordered consumer, which JetStream removes
// InactiveThreshold after the subscription ends. Each Subscription is a
// consumer on the shared stream: long-lived followers only (one per
// process, such as the live hub, the reconciler, an SSE stream); never
// one per client message.
func (p *Publisher) Subscribe(ctx context.Context, f Filter) (*Subscription, error) {
	subjects, err := f.subjects()
	if err != nil {
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverNewPolicy, InactiveThreshold: InactiveThreshold}
	switch {
	case !f.Since.IsZero() && f.AfterSeq != 0:
		return nil, errors.New("event filter: Since and AfterSeq are exclusive")
	case !f.Since.IsZero():
		since := f.Since.UTC()
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	case f.AfterSeq != 0:
		if err := p.resumable(ctx, f.AfterSeq); err != nil {
			return nil, err
		}
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = f.AfterSeq + 1
	}
	cons, err := p.js.OrderedConsumer(ctx, StreamName, cfg)
	if err != nil {
		return nil, fmt.Errorf("follow events: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("follow events: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{ch: make(chan Event, 64), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.ch)
		defer it.Stop()
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() == nil {
					s.mu.Lock()
					s.err = fmt.Errorf("follow events: %w", err)
					s.mu.Unlock()
				}
				return
			}
			var ev Event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				p.log.Warn("skipping undecodable event", "subject", msg.Subject(), "err", err)
				continue
			}
			if md, err := msg.Metadata(); err == nil {
				ev.Seq = md.Sequence.Stream
			}
			if f.ResourceID != "" && ev.ResourceID != f.ResourceID {
				continue
			}
			select {
			case s.ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return s, nil
}

// LastSeq is the sequence of the last event stored (0 when none): a
// follower that subscribes with it as Filter.AfterSeq gets every event
// stored after this call, and can resume from it later even if none of
// them was for it.
func (p *Publisher) LastSeq(ctx context.Context) (uint64, error) {
	st, err := p.js.Stream(ctx, StreamName)
	if err != nil {
		return 0, fmt.Errorf("events: stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// CheckResume answers ErrResumeTooOld unless the stream still holds
// every event after seq (see Filter.AfterSeq).
func (p *Publisher) CheckResume(ctx context.Context, seq uint64) error { return p.resumable(ctx, seq) }

// resumable checks that the stream still holds every event after seq:
// its first stored sequence is at most seq+1, and seq is one it handed
// out.
func (p *Publisher) resumable(ctx context.Context, seq uint64) error {
	st, err := p.js.Stream(ctx, StreamName)
	if err != nil {
		return fmt.Errorf("follow events: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("follow events: %w", err)
	}
	if seq > info.State.LastSeq {
		return fmt.Errorf("%w: %d is past the last stored sequence %d", ErrResumeTooOld, seq, info.State.LastSeq)
	}
	if seq+1 < info.State.FirstSeq {
		return fmt.Errorf("%w: the events after %d up to %d were discarded", ErrResumeTooOld, seq, info.State.FirstSeq-1)
	}
	return nil
}

// Replay calls fn, in order, with the stored events that match f (whose
// AfterSeq must be set; Since is not taken) and whose Seq is at most
// upTo, then returns; fn's error stops it. It answers ErrResumeTooOld as
// Subscribe does. The consumer it reads with is short-lived: deleted when
// it returns (and removed by JetStream after InactiveThreshold should
// that fail). A follower that registered for new events at upTo replays
// up to it with Replay, then continues with what it registered for, with
// neither gap nor duplicate.
func (p *Publisher) Replay(ctx context.Context, f Filter, upTo uint64, fn func(Event) error) error {
	if f.AfterSeq == 0 || !f.Since.IsZero() {
		return errors.New("event replay: AfterSeq is required and Since not taken")
	}
	subjects, err := f.subjects()
	if err != nil {
		return err
	}
	if err := p.resumable(ctx, f.AfterSeq); err != nil {
		return err
	}
	if upTo <= f.AfterSeq {
		return nil
	}
	cons, err := p.js.CreateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Description: "hks event replay", FilterSubjects: subjects,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: f.AfterSeq + 1,
		AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: InactiveThreshold, MemoryStorage: true, Replicas: 1,
	})
	if err != nil {
		return fmt.Errorf("replay events: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
		defer cancel()
		if err := p.js.DeleteConsumer(dctx, StreamName, cons.CachedInfo().Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			p.log.Warn("delete replay consumer (JetStream removes it when inactive)", "err", err)
		}
	}()
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("replay events: %w", err)
	}
	if info.NumPending == 0 {
		return nil
	}
	for {
		batch, err := cons.Fetch(replayBatch, jetstream.FetchMaxWait(replayWait))
		if err != nil {
			return fmt.Errorf("replay events: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("replay events: %w", err)
			}
			if md.Sequence.Stream > upTo {
				return nil
			}
			var ev Event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				p.log.Warn("skipping undecodable event", "subject", msg.Subject(), "err", err)
			} else if f.ResourceID == "" || ev.ResourceID == f.ResourceID {
				ev.Seq = md.Sequence.Stream
				if err := fn(ev); err != nil {
					return err
				}
			}
			if md.Sequence.Stream == upTo || md.NumPending == 0 {
				return nil // nothing more stored up to upTo
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("replay events: %w", err)
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			return errors.New("replay events: the stored events did not arrive")
		}
	}
}

const (
	replayBatch = 256
	replayWait  = 5 * time.Second
)
