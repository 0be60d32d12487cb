package triggers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cronexpr"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Limits of names.
const (
	MaxTopicLen = 200
	maxNameLen  = 63
)

// ErrInvalidTopic is a topic that is not dot-separated DNS labels.
var ErrInvalidTopic = errors.New("invalid topic")

const topicRule = "must be lowercase DNS labels (letters, digits and '-', starting and ending with a letter or digit) separated by dots, at most 200 characters, such as orders.created"

// ValidTopic checks a topic: DNS labels of lowercase letters, digits and
// '-', separated by single dots ("orders.created"), at most MaxTopicLen.
func ValidTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	}
	if len(topic) > MaxTopicLen {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidTopic, MaxTopicLen)
	}
	for label := range strings.SplitSeq(topic, ".") {
		if !dnsLabel(label) {
			return fmt.Errorf("%w: %q", ErrInvalidTopic, topic)
		}
	}
	return nil
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validName(field, name string) []api.FieldError {
	switch {
	case name == "":
		return []api.FieldError{httpapi.Field(field, "is required")}
	case len(name) > maxNameLen || !dnsLabel(name):
		return []api.FieldError{httpapi.Field(field, fmt.Sprintf("must be a DNS-1123 label of at most %d characters: lowercase letters, digits and '-', starting and ending with a letter or digit", maxNameLen))}
	}
	return nil
}

// scheduleField is a cronexpr error as the field error the CronJob API
// gives for it.
func scheduleField(field string, err error) api.FieldError {
	var se *cronexpr.Error
	if errors.As(err, &se) {
		return httpapi.Field(field, se.Error())
	}
	return httpapi.Field(field, err.Error())
}

// checkTrigger validates a create request and returns the trigger it
// describes (without ids), with next_fire_at of a cron trigger computed
// from now.
func checkTrigger(req api.CreateFunctionTriggerRequest, now time.Time) (store.FunctionTrigger, []api.FieldError) {
	errs := validName("name", req.Name)
	if req.Alias != "" {
		errs = append(errs, validName("alias", req.Alias)...)
	}
	t := store.FunctionTrigger{Name: req.Name, Kind: req.Kind, Alias: req.Alias}
	switch req.Kind {
	case store.FunctionTriggerCron:
		if req.Topic != "" {
			errs = append(errs, httpapi.Field("topic", "only an event trigger has a topic"))
		}
		if req.Schedule == "" {
			errs = append(errs, httpapi.Field("schedule", "is required for a cron trigger"))
		}
		sched, err := cronexpr.Parse(req.Schedule)
		if err != nil && req.Schedule != "" {
			errs = append(errs, scheduleField("schedule", err))
		}
		loc, zerr := cronexpr.LoadTimeZone(req.TimeZone)
		if zerr != nil {
			errs = append(errs, scheduleField("time_zone", zerr))
		}
		if err == nil && zerr == nil {
			t.Schedule, t.TimeZone = req.Schedule, req.TimeZone
			t.NextFireAt = firstAfter(sched, loc, now)
		}
	case store.FunctionTriggerEvent:
		if req.Schedule != "" {
			errs = append(errs, httpapi.Field("schedule", "only a cron trigger has a schedule"))
		}
		if req.TimeZone != "" {
			errs = append(errs, httpapi.Field("time_zone", "only a cron trigger has a time zone"))
		}
		switch err := ValidTopic(req.Topic); {
		case req.Topic == "":
			errs = append(errs, httpapi.Field("topic", "is required for an event trigger"))
		case err != nil:
			errs = append(errs, httpapi.Field("topic", topicRule))
		}
		t.Topic = req.Topic
	case "":
		errs = append(errs, httpapi.Field("kind", "is required: cron or event"))
	default:
		errs = append(errs, httpapi.Field("kind", "must be cron or event"))
	}
	return t, errs
}
