package tools

// Builtin answers the assistant's own tools: the reads (list_resources,
// get_resource, describe, pod_logs, events, diagnose, list_projects,
// cronjob_runs) and the writes, each a plan (scale, restart, set_image,
// cronjob_create, cronjob_suspend, cronjob_trigger, delete). Later
// capabilities (functions, backups) add theirs to the same Registry.
func Builtin() []Tool {
	return append(readTools(), writeTools()...)
}
