package local

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
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
// kwok reads the stages from stagesPath, simulates only the nodes annotated
// AnnotationKwokNode=KwokNodeValue, and serves kwokHealthPath on
// 127.0.0.1:healthPort.
func kwokArgs(kubeconfigPath, stagesPath string, healthPort int) []string {
	return []string{
		"--kubeconfig=" + kubeconfigPath,
		"--config=" + stagesPath,
		"--manage-nodes-with-annotation-selector=" + AnnotationKwokNode + "=" + KwokNodeValue,
		"--node-lease-duration-seconds=" + strconv.Itoa(kwokNodeLeaseSeconds),
		"--server-address=127.0.0.1:" + strconv.Itoa(healthPort),
		"--cidr=" + kwokFallbackCIDR,
	}
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
// carry their capacity, addresses and pod CIDR; kwok's hks-node-ready stage
// makes them Ready.
func kwokNodes(workspaceID, plan string) []*corev1.Node {
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
				Capacity:    kwokNodeCapacity.DeepCopy(),
				Allocatable: kwokNodeCapacity.DeepCopy(),
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("192.168.64.%d", 10+i)},
					{Type: corev1.NodeHostName, Address: name},
				},
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
