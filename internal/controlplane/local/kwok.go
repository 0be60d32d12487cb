package local

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
)

// kwokStages is kwok's configuration for every workspace: the lifecycle
// stages of simulated nodes and pods and a few process options (see the
// file's header).
//
//go:embed kwok-stages.yaml
var kwokStages []byte

// Labels, annotation and taint of the simulated nodes. The same keys are
// what a workspace's pods are steered with on the dedicated plan.
const (
	// LabelWorkspace is set on a dedicated node to the workspace ID.
	LabelWorkspace = "hks.io/workspace"
	// LabelPool is PoolShared or PoolDedicated on every node.
	LabelPool     = "hks.io/pool"
	PoolShared    = "shared"
	PoolDedicated = "dedicated"
	// TaintDedicated (value: the workspace ID, effect NoSchedule) keeps
	// pods off a dedicated node unless they tolerate it.
	TaintDedicated = "hks.io/dedicated"
	// AnnotationKwokNode=KwokNodeValue marks a node as kwok's to simulate;
	// kwok manages no other node.
	AnnotationKwokNode = "kwok.x-k8s.io/node"
	KwokNodeValue      = "fake"
)

// kwokHealthPath is served by kwok's own HTTP server (--server-address),
// with /readyz, /livez and /metrics.
const kwokHealthPath = "/healthz"

// kwok runs without node leases (--node-lease-duration-seconds=0). With
// leases, kwok v0.8.0 takes a node only once the lease of the kwok before
// it has expired, and then races its own lease cache: pods it syncs for a
// node whose lease it just took are skipped as "read only" and never
// looked at again, so after a sleep or a restart scheduled pods could stay
// Pending and Jobs' pods never complete. Without leases kwok manages every
// annotated node at once; node liveness is then the Ready condition's
// heartbeat, which the hks-node-status stage refreshes every 5-10 minutes,
// and the controller manager's --node-monitor-grace-period
// (nodeMonitorGracePeriod) is longer than that. It also saves each
// workspace three lease writes every 10 s.
const kwokNodeLeaseSeconds = 0

// nodeMonitorGracePeriod is how long the node lifecycle controller waits
// for a node's heartbeat before it marks the node Unknown: longer than
// the hks-node-status stage's 5-10 minutes.
const nodeMonitorGracePeriod = "15m"

// kwokFallbackCIDR gives pod IPs on a node without spec.podCIDR (our nodes
// all have one; kwok's default of a /24 would run out at 254 pods).
const kwokFallbackCIDR = "10.244.0.0/16"

// kwokArgs is kwok's command line (without argv[0]) for one workspace.
// kwok reads its configuration (kwokConfig) from configPath, simulates only
// the nodes annotated AnnotationKwokNode=KwokNodeValue, and serves
// kwokHealthPath and the simulated kubelet endpoint on 127.0.0.1:port:
// https with certFile and keyFile (a workspace CA certificate for
// kwokNodeIP, which the API server verifies) and, on the same port, plain
// http (kwok muxes both; the health probe uses it).
func kwokArgs(kubeconfigPath, configPath string, port int, certFile, keyFile string) []string {
	return []string{
		"--kubeconfig=" + kubeconfigPath,
		"--config=" + configPath,
		"--manage-nodes-with-annotation-selector=" + AnnotationKwokNode + "=" + KwokNodeValue,
		"--node-lease-duration-seconds=" + strconv.Itoa(kwokNodeLeaseSeconds),
		"--server-address=" + kwokNodeIP + ":" + strconv.Itoa(port),
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--cidr=" + kwokFallbackCIDR,
	}
}

// kwokNodeIP is the InternalIP of every simulated node: the loopback
// address its workspace's kwok serves the kubelet endpoint on. The API
// server reaches a node there (--kubelet-preferred-address-types=InternalIP)
// on the port in the node's status.daemonEndpoints.
const kwokNodeIP = "127.0.0.1"

// ContainerLogFile is the one log every container of a workspace shows
// (kubectl logs, and kubectl attach from its end): a file the platform
// writes under the workspace's directory, in the CRI log format kwok
// reads (see CRILogLine). Its text is the same in every workspace and
// carries nothing of a tenant's; a restart of the workspace writes it
// anew.
func ContainerLogFile(dataDir, workspaceID string) string {
	return filepath.Join(dataDir, "workspaces", workspaceID, "kwok", "container.log")
}

// kwokContainerLogLines are the lines of kwokContainerLog.
var kwokContainerLogLines = []string{
	"hks: this pod runs on a simulated node (kwok): no container process runs, so there is no output of its own.",
	"hks: on simulated nodes, logs and attach show this notice, exec runs nothing, and port-forward reaches the node's kubelet endpoint (GET /healthz answers ok).",
}

// kwokContainerLogContent renders kwokContainerLogLines in the CRI log
// format ("<RFC 3339 time> stdout F <line>"), stamped with now.
func kwokContainerLogContent(now time.Time) []byte {
	var b strings.Builder
	for _, l := range kwokContainerLogLines {
		b.WriteString(CRILogLine(now, l))
	}
	return []byte(b.String())
}

// CRILogLine is line as one complete stdout line of a CRI container log,
// the format kwok's logs and attach read.
func CRILogLine(t time.Time, line string) string {
	return t.UTC().Format(time.RFC3339Nano) + " stdout F " + line + "\n"
}

// kwokObject is a kwok configuration document (kwok.x-k8s.io/v1alpha1).
type kwokObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec any `json:"spec"`
}

// kwokConfig is kwok's --config for one workspace: the stages and options
// of kwok-stages.yaml, then what the simulated kubelet endpoint serves for
// every pod of every namespace (no selector), none of it chosen by a
// tenant:
//   - ClusterLogs: kubectl logs (also --previous, -f) reads logFile;
//   - ClusterAttach: kubectl attach follows logFile from its end;
//   - ClusterPortForward: every port of every pod is forwarded to kwok's
//     own server on kwokNodeIP:port (this workspace's; /healthz answers
//     "ok"), never to another address;
//   - no ClusterExec or Exec: kwok's only exec target runs the command
//     the caller names on this host, so exec is refused (kwok answers
//     "no exec found for container …").
//
// kwok watches no CRDs (no --enable-crds), so tenants' objects of these
// kinds in their cluster change nothing.
func kwokConfig(logFile string, port int) ([]byte, error) {
	doc := func(kind, name string, spec any) kwokObject {
		o := kwokObject{APIVersion: "kwok.x-k8s.io/v1alpha1", Kind: kind, Spec: spec}
		o.Metadata.Name = name
		return o
	}
	docs := []kwokObject{
		doc("ClusterLogs", "hks-logs", map[string]any{
			"logs": []map[string]any{{"logsFile": logFile, "previousLogsFile": logFile}},
		}),
		doc("ClusterAttach", "hks-attach", map[string]any{
			"attaches": []map[string]any{{"logsFile": logFile}},
		}),
		doc("ClusterPortForward", "hks-port-forward", map[string]any{
			"forwards": []map[string]any{{"target": map[string]any{"address": kwokNodeIP, "port": port}}},
		}),
	}
	out := append([]byte(nil), kwokStages...)
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("kwok config: %w", err)
		}
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		out = append(out, "---\n"...)
		out = append(out, b...)
	}
	return out, nil
}

// Node capacity of a simulated node: a realistic mid-size machine, so
// requests and limits in users' manifests behave as they would elsewhere.
var kwokNodeCapacity = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("32"),
	corev1.ResourceMemory:           resource.MustParse("128Gi"),
	corev1.ResourcePods:             resource.MustParse("110"),
	corev1.ResourceEphemeralStorage: resource.MustParse("500Gi"),
}

const (
	sharedNodeCount    = 3
	dedicatedNodeCount = 2
)

// kwokNodes are the simulated nodes of a workspace:
//   - PlanShared: hks-shared-0..2, labelled LabelPool=shared;
//   - PlanDedicated: hks-dedicated-0..1, labelled LabelPool=dedicated and
//     LabelWorkspace=workspaceID, tainted TaintDedicated=workspaceID:NoSchedule.
//
// Any other plan has no nodes (workspaceAdmission rejects it). The nodes
// carry their capacity, pod CIDR and kubelet endpoint: InternalIP
// kwokNodeIP and kubelet port kubeletPort, the workspace's kwok. kwok's
// hks-node-ready stage makes them Ready.
func kwokNodes(workspaceID, plan string, kubeletPort int) []*corev1.Node {
	var (
		pool  string
		count int
	)
	switch plan {
	case controlplane.PlanShared:
		pool, count = PoolShared, sharedNodeCount
	case controlplane.PlanDedicated:
		pool, count = PoolDedicated, dedicatedNodeCount
	default:
		return nil
	}
	nodes := make([]*corev1.Node, 0, count)
	for i := range count {
		name := "hks-" + pool + "-" + strconv.Itoa(i)
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: name,
				Labels: map[string]string{
					LabelPool:                          pool,
					"type":                             "kwok",
					"kubernetes.io/arch":               "amd64",
					"kubernetes.io/os":                 "linux",
					"kubernetes.io/hostname":           name,
					"kubernetes.io/role":               "agent",
					"node-role.kubernetes.io/agent":    "",
					"node.kubernetes.io/instance-type": "hks-kwok-32c-128g",
				},
				Annotations: map[string]string{AnnotationKwokNode: KwokNodeValue},
			},
			Spec: corev1.NodeSpec{
				// kwok hands out pod IPs from the node's pod CIDR.
				PodCIDR:  fmt.Sprintf("10.244.%d.0/24", i),
				PodCIDRs: []string{fmt.Sprintf("10.244.%d.0/24", i)},
			},
			Status: corev1.NodeStatus{
				Capacity:        kwokNodeCapacity.DeepCopy(),
				Allocatable:     kwokNodeCapacity.DeepCopy(),
				Addresses:       kwokNodeAddresses(name),
				DaemonEndpoints: kwokDaemonEndpoints(kubeletPort),
				NodeInfo: corev1.NodeSystemInfo{
					Architecture:    "amd64",
					OperatingSystem: "linux",
				},
			},
		}
		if plan == controlplane.PlanDedicated {
			n.Labels[LabelWorkspace] = workspaceID
			n.Spec.Taints = []corev1.Taint{{Key: TaintDedicated, Value: workspaceID, Effect: corev1.TaintEffectNoSchedule}}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

func kwokNodeAddresses(name string) []corev1.NodeAddress {
	return []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: kwokNodeIP},
		{Type: corev1.NodeHostName, Address: name},
	}
}

func kwokDaemonEndpoints(kubeletPort int) corev1.NodeDaemonEndpoints {
	return corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(kubeletPort)}} //nolint:gosec // a TCP port
}

// ensureKwokNode creates node n, or points an existing node of that name
// at n's kubelet endpoint (its addresses and kubelet port) when they
// differ: a workspace made before nodes had one, or whose kwok port
// changed.
func ensureKwokNode(ctx context.Context, cs kubernetes.Interface, n *corev1.Node) error {
	_, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{FieldManager: "hks"})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", n.Name, err)
	}
	cur, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", n.Name, err)
	}
	if equality.Semantic.DeepEqual(cur.Status.Addresses, n.Status.Addresses) &&
		cur.Status.DaemonEndpoints == n.Status.DaemonEndpoints {
		return nil
	}
	// A merge patch replaces the address list whole.
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"addresses":       n.Status.Addresses,
		"daemonEndpoints": n.Status.DaemonEndpoints,
	}})
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "hks"}, "status"); err != nil {
		return fmt.Errorf("point node %s at its kubelet endpoint: %w", n.Name, err)
	}
	return nil
}

// admissionConfigFile is the AdmissionConfiguration that workspaceAdmission
// returns; the plugins' own settings are inline in it, so it is the only
// file.
const admissionConfigFile = "admission.yaml"

// admissionConfiguration is apiserver.config.k8s.io/v1 AdmissionConfiguration.
type admissionConfiguration struct {
	APIVersion string                  `json:"apiVersion"`
	Kind       string                  `json:"kind"`
	Plugins    []admissionPluginConfig `json:"plugins"`
}

type admissionPluginConfig struct {
	Name          string `json:"name"`
	Configuration any    `json:"configuration"`
}

// podTolerationRestrictionConfig is the PodTolerationRestriction plugin's
// podtolerationrestriction.admission.k8s.io/v1alpha1 Configuration.
type podTolerationRestrictionConfig struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Default    []corev1.Toleration `json:"default"`
}

// workspaceAdmission is the admission configuration of a workspace's API
// server. On every plan, PodSecurity (enabled by default) gets the
// cluster-wide defaults of controlplane.PodSecurityDefaults, for
// namespaces that carry no Pod Security labels of their own.
//
// On the dedicated plan it also steers every pod to the workspace's nodes
// without the user asking: the PodNodeSelector plugin adds
// LabelWorkspace=workspaceID to each pod's nodeSelector (namespaces
// without their own scheduler.alpha.kubernetes.io/node-selector
// annotation), and PodTolerationRestriction adds a toleration of
// TaintDedicated (namespaces without their own
// scheduler.alpha.kubernetes.io/defaultTolerations).
//
// files maps file names to contents, all to be written into one directory;
// admissionConfigName is the one of them to pass to kube-apiserver's
// --admission-control-config-file, and plugins are to be added to
// --enable-admission-plugins (none on the shared plan). The plugins'
// settings are inline in the AdmissionConfiguration, so files holds only
// that.
func workspaceAdmission(workspaceID, plan string) (files map[string][]byte, admissionConfigName string, plugins []string, err error) {
	cfg := admissionConfiguration{
		APIVersion: "apiserver.config.k8s.io/v1",
		Kind:       "AdmissionConfiguration",
		Plugins:    []admissionPluginConfig{{Name: "PodSecurity", Configuration: controlplane.PodSecurityDefaults()}},
	}
	switch plan {
	case controlplane.PlanShared:
	case controlplane.PlanDedicated:
		if errs := validation.IsValidLabelValue(workspaceID); workspaceID == "" || len(errs) > 0 {
			return nil, "", nil, fmt.Errorf("workspace ID %q is not a label value: %s", workspaceID, strings.Join(errs, "; "))
		}
		plugins = []string{"PodNodeSelector", "PodTolerationRestriction"}
		cfg.Plugins = append(cfg.Plugins,
			admissionPluginConfig{
				Name: "PodNodeSelector",
				Configuration: map[string]any{
					"podNodeSelectorPluginConfig": map[string]string{
						"clusterDefaultNodeSelector": LabelWorkspace + "=" + workspaceID,
					},
				},
			},
			admissionPluginConfig{
				Name: "PodTolerationRestriction",
				Configuration: podTolerationRestrictionConfig{
					APIVersion: "podtolerationrestriction.admission.k8s.io/v1alpha1",
					Kind:       "Configuration",
					Default: []corev1.Toleration{{
						Key:      TaintDedicated,
						Operator: corev1.TolerationOpEqual,
						Value:    workspaceID,
						Effect:   corev1.TaintEffectNoSchedule,
					}},
				},
			})
	default:
		return nil, "", nil, fmt.Errorf("unknown plan %q", plan)
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, "", nil, fmt.Errorf("admission config: %w", err)
	}
	return map[string][]byte{admissionConfigFile: b}, admissionConfigFile, plugins, nil
}
