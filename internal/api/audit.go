package api

import "time"

// Record is an audit record as the API shows it.
type Record struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	ActorID    string    `json:"actor_id,omitempty" doc:"the user who acted; empty for anonymous attempts"`
	ActorEmail string    `json:"actor_email,omitempty" doc:"the actor's email, or the email an anonymous caller tried"`
	OrgID      string    `json:"org_id,omitempty"`
	Action     string    `json:"action" doc:"such as workspace.create, auth.login, auth.login.failed"`
	TargetType string    `json:"target_type,omitempty"`
	TargetID   string    `json:"target_id,omitempty"`
	Result     string    `json:"result" doc:"success, failure or denied"`
	Status     int       `json:"status" doc:"HTTP status of the answer"`
	SourceIP   string    `json:"source_ip,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}
