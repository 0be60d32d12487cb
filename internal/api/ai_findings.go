package api

// Severities of a Finding, worst first.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// FindingObject is a Kubernetes object a finding is about.
type FindingObject struct {
	// Kind is the object's kind, e.g. Pod, Deployment, ResourceQuota.
	Kind string `json:"kind" doc:"the object's kind, e.g. Pod, Deployment, ResourceQuota"`
	// Name is the object's name.
	Name string `json:"name" doc:"the object's name"`
	// Namespace is the object's namespace (the project), empty for
	// cluster-scoped objects.
	Namespace string `json:"namespace,omitempty" doc:"the object's namespace (its project); absent for cluster-scoped objects"`
}

// Finding is one problem a deterministic analyzer found.
type Finding struct {
	// Analyzer is the name of the analyzer that found it, e.g. "crashloop".
	Analyzer string `json:"analyzer" doc:"the analyzer that found it, e.g. crashloop"`
	// Severity is SeverityCritical, SeverityWarning or SeverityInfo.
	Severity string `json:"severity" doc:"critical, warning or info"`
	// Title says the problem in one line.
	Title string `json:"title" doc:"the problem in one line, e.g. Pod web-5d9c-abc is in CrashLoopBackOff"`
	// Objects are the objects concerned, the main one first.
	Objects []FindingObject `json:"objects" doc:"the objects concerned, the main one first"`
	// Evidence are the facts the finding rests on: events, conditions,
	// container states, counts, each a short line.
	Evidence []string `json:"evidence" doc:"the facts it rests on (events, conditions, container states), each a short line"`
	// Suggestion is the suggested fix.
	Suggestion string `json:"suggestion" doc:"the suggested fix"`
}

// Diagnosis is the result of running the analyzers over the objects of a
// project or a workspace.
type Diagnosis struct {
	// Findings are sorted by severity (critical first), then by the
	// namespace and name of their main object.
	Findings []Finding `json:"findings" doc:"critical first, then by the namespace and name of the main object"`
	// Analyzers are the names of the analyzers run.
	Analyzers []string `json:"analyzers" doc:"the names of the analyzers run"`
	// Skipped are the kinds that could not be listed, with why, e.g.
	// "horizontalpodautoscalers: forbidden"; the analyzers that need them
	// said nothing about them.
	Skipped []string `json:"skipped" doc:"kinds that could not be listed and why, e.g. horizontalpodautoscalers: forbidden; nothing was concluded from their absence"`
	// Objects is how many objects were examined, events included.
	Objects int `json:"objects" doc:"how many objects were examined, events included"`
	// Namespaces are the namespaces examined.
	Namespaces []string `json:"namespaces" doc:"the namespaces examined"`
}
