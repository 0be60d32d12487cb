package api

// Diagnosis is what the analyzers found in a project or a workspace
// (GET …/diagnose), without a model.
type Diagnosis struct {
	Findings   []Finding `json:"findings"`
	Analyzers  []string  `json:"analyzers" doc:"the analyzers that ran"`
	Skipped    []string  `json:"skipped" doc:"kinds the caller may not read, left out"`
	Objects    int       `json:"objects" doc:"how many objects the analyzers looked at"`
	Namespaces []string  `json:"namespaces" doc:"the namespaces looked at"`
}

// Finding is one problem an analyzer found.
type Finding struct {
	Analyzer   string          `json:"analyzer"`
	Severity   string          `json:"severity" doc:"critical, warning or info"`
	Title      string          `json:"title"`
	Objects    []FindingObject `json:"objects"`
	Evidence   []string        `json:"evidence" doc:"events, conditions and statuses that show it"`
	Suggestion string          `json:"suggestion" doc:"a suggested fix"`
}

// FindingObject is an object a finding is about.
type FindingObject struct {
	Kind      string `json:"kind,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}
