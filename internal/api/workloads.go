package api

import "time"

// EnvVar is an environment variable of the application's container.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Port is a container port; with ServicePort the application's Service
// exposes it.
type Port struct {
	Name          string `json:"name,omitempty" doc:"DNS-1123 label, at most 15 characters; default p<containerPort>"`
	ContainerPort int32  `json:"container_port"`
	Protocol      string `json:"protocol,omitempty" doc:"TCP (default), UDP or SCTP"`
	ServicePort   int32  `json:"service_port,omitempty" doc:"port of the Service; default container_port"`
}

// ResourceList is CPU and memory as Kubernetes quantities ("250m",
// "512Mi").
type ResourceList struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Resources are the container's requests and limits.
type Resources struct {
	Requests ResourceList `json:"requests"`
	Limits   ResourceList `json:"limits"`
}

// AppSpec is the simple form of an application: one container run by a
// Deployment, and a Service when it has ports.
type AppSpec struct {
	Image     string            `json:"image,omitempty" doc:"required, except in a request that gives a manifest"`
	Replicas  *int32            `json:"replicas,omitempty" doc:"default 1"`
	Command   []string          `json:"command,omitempty"`
	Args      []string          `json:"args,omitempty"`
	Env       []EnvVar          `json:"env,omitempty"`
	Ports     []Port            `json:"ports,omitempty"`
	Resources *Resources        `json:"resources,omitempty"`
	Labels    map[string]string `json:"labels,omitempty" doc:"extra labels of the Deployment, its pods and its Service"`
}

// QuotaUse is one resource of a project's quota: used against hard, as
// the cluster's ResourceQuota status reports them.
type QuotaUse struct {
	Used string `json:"used"`
	Hard string `json:"hard,omitempty" doc:"absent: no limit"`
}

// Counts are the workloads of a project.
type Counts struct {
	Applications int `json:"applications"`
	Pods         int `json:"pods"`
	RunningPods  int `json:"running_pods"`
	CronJobs     int `json:"cronjobs"`
	Jobs         int `json:"jobs"`
	Services     int `json:"services"`
}

// Usage is the resource usage of a project, or the sum over a workspace's
// projects.
type Usage struct {
	Project  string              `json:"project,omitempty"`
	Quota    map[string]QuotaUse `json:"quota" doc:"by resource name (requests.cpu, limits.memory, pods, …)"`
	Counts   Counts              `json:"counts"`
	Projects []Usage             `json:"projects,omitempty" doc:"workspace usage only: each visible project"`
}

// Event is a Kubernetes event about an application, its ReplicaSets or
// its pods.
type Event struct {
	Type     string    `json:"type" doc:"Normal or Warning"`
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
	Object   string    `json:"object" doc:"kind/name"`
	Count    int32     `json:"count"`
	LastSeen time.Time `json:"last_seen"`
}

// CreateApplicationRequest creates an application from the simple spec, or
// from Manifest: YAML or JSON, one or more documents, every object in the
// project's namespace (an object without a namespace is put there). A
// manifest must hold exactly one Deployment, which names the application;
// it is checked by the cluster with a server-side dry run (unknown fields
// refused) before anything is created.
type CreateApplicationRequest struct {
	Name string `json:"name,omitempty" doc:"DNS-1123 label; required with the simple spec"`
	AppSpec
	Manifest string `json:"manifest,omitempty" doc:"a Kubernetes manifest instead of the simple spec"`
}

// UpdateApplicationRequest replaces what the simple spec describes of an
// application (a rolling update; what the spec leaves out returns to its
// default, what it cannot describe, such as other containers and volumes,
// stays), or applies a manifest.
type UpdateApplicationRequest struct {
	AppSpec
	Manifest        string `json:"manifest,omitempty"`
	ResourceVersion string `json:"resource_version,omitempty" doc:"when given, the update is refused with 412 unless the application is still at this version"`
}

// PatchApplicationRequest is a JSON merge patch (RFC 7396) of an
// application's simple spec: the members it has replace the application's
// (lists whole, labels key by key, null removes), the others stay, and so
// does everything the simple spec cannot describe.
type PatchApplicationRequest struct {
	Image           *string            `json:"image,omitempty"`
	Replicas        *int32             `json:"replicas,omitempty"`
	Command         *[]string          `json:"command,omitempty"`
	Args            *[]string          `json:"args,omitempty"`
	Env             *[]EnvVar          `json:"env,omitempty" doc:"the whole list"`
	Ports           *[]Port            `json:"ports,omitempty" doc:"the whole list; none removes the Service"`
	Resources       *Resources         `json:"resources,omitempty" doc:"merged member by member"`
	Labels          map[string]*string `json:"labels,omitempty" doc:"merged key by key; null removes a label"`
	ResourceVersion string             `json:"resource_version,omitempty" doc:"when given, the patch is refused with 412 unless the application is still at this version"`
}

// ScaleRequest sets an application's replicas.
type ScaleRequest struct {
	Replicas *int32 `json:"replicas"`
}

// Condition is a condition of a Deployment or a pod.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Pod is one pod of an application.
type Pod struct {
	Name      string     `json:"name"`
	Phase     string     `json:"phase"`
	Ready     bool       `json:"ready"`
	Node      string     `json:"node,omitempty"`
	Restarts  int32      `json:"restarts"`
	IP        string     `json:"ip,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	Reason    string     `json:"reason,omitempty" doc:"why a container is waiting or terminated"`
}

// AppStatus is an application's live state.
type AppStatus struct {
	Replicas          int32       `json:"replicas" doc:"desired"`
	ReadyReplicas     int32       `json:"ready_replicas"`
	UpdatedReplicas   int32       `json:"updated_replicas"`
	AvailableReplicas int32       `json:"available_replicas"`
	Ready             bool        `json:"ready" doc:"the latest spec is rolled out and every desired replica is ready"`
	Conditions        []Condition `json:"conditions"`
}

// Application is a Deployment of a project, with its Service.
type Application struct {
	Name            string            `json:"name"`
	Project         string            `json:"project"`
	Image           string            `json:"image,omitempty" doc:"the first container's image"`
	Labels          map[string]string `json:"labels,omitempty"`
	Service         *ServiceInfo      `json:"service,omitempty"`
	Status          AppStatus         `json:"status"`
	Pods            []Pod             `json:"pods,omitempty" doc:"on get only"`
	Spec            AppSpec           `json:"spec" doc:"the simple spec as it is: the first container, the replicas, the ports and the labels that are not the platform's"`
	CreatedAt       time.Time         `json:"created_at"`
	ResourceVersion string            `json:"resource_version" doc:"the Deployment's generation; changes on every update; send it back as If-Match (or resource_version in a PATCH or PUT body) and a change made by someone else first is refused with 412"`
}

// ServiceInfo is the application's Service.
type ServiceInfo struct {
	Name      string        `json:"name"`
	ClusterIP string        `json:"cluster_ip,omitempty"`
	Ports     []ServicePort `json:"ports"`
}

// ServicePort is a port of the Service.
type ServicePort struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
}

// ProjectAccess is what the caller may do in a project's namespace, as
// the workspace cluster's RBAC decides for the caller's own identity:
// per resource ("deployments", "deployments/scale", "pods/log",
// "cronjobs", "jobs", …), the verbs allowed. The console hides the
// actions it does not list; the server still decides every call.
type ProjectAccess struct {
	Resources map[string][]string `json:"resources" doc:"resource (or resource/subresource) → the verbs allowed, of those the console asks about"`
}
