// Package events owns the platform's state-change events: the Event
// envelope, the JetStream stream EVENTS that keeps the last 24 hours of
// them (subjects hks.events.<org>.<type>, "_platform" for events outside any
// organization), publishing them, and following them from a point in time
// for the workspace event stream (Server-Sent Events) that the CLI's --wait follows. Events are notifications,
// not the record: the database holds the state, an event says it changed.
// catalogue.go is the one list of event types and their payloads; every
// publisher names its type by one of those constants.
package events
