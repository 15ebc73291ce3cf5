package k8s_test

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bndmr/hub/deploy/k8s/render"
)

const hubNamespace = "bndmr"

// endpoint is one side of a connection: a pod (of the hub or of another
// namespace) or an address outside the cluster.
type endpoint struct {
	id       string // app.kubernetes.io/name of a pod, or a made-up name
	ns       string // "" outside the cluster
	nsLabels map[string]string
	labels   map[string]string
	ip       netip.Addr // outside the cluster only
}

type portProto struct {
	port  int32
	proto corev1.Protocol
}

func (p portProto) String() string { return fmt.Sprintf("%d/%s", p.port, p.proto) }

// Others the hub deals with, outside its namespace.
var outsiders = []endpoint{
	{id: "prometheus", ns: "monitoring", nsLabels: nsLabels("monitoring"), labels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
	{id: "other-monitoring-pod", ns: "monitoring", nsLabels: nsLabels("monitoring"), labels: map[string]string{"app.kubernetes.io/name": "grafana"}},
	{id: "ingress-controller", ns: "ingress-nginx", nsLabels: nsLabels("ingress-nginx"), labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}},
	{id: "kube-dns", ns: "kube-system", nsLabels: nsLabels("kube-system"), labels: map[string]string{"k8s-app": "kube-dns"}},
	{id: "stranger-pod", ns: "default", nsLabels: nsLabels("default"), labels: map[string]string{"app": "stranger"}},
	{id: "internet", ip: netip.MustParseAddr("203.0.113.10")},
	{id: "private-host", ip: netip.MustParseAddr("10.20.30.40")},
}

var probedPorts = []portProto{
	{53, corev1.ProtocolUDP}, {53, corev1.ProtocolTCP}, {25, corev1.ProtocolTCP}, {80, corev1.ProtocolTCP},
	{143, corev1.ProtocolTCP}, {443, corev1.ProtocolTCP}, {465, corev1.ProtocolTCP}, {587, corev1.ProtocolTCP},
	{993, corev1.ProtocolTCP}, {4222, corev1.ProtocolTCP}, {6222, corev1.ProtocolTCP}, {8080, corev1.ProtocolTCP},
	{8090, corev1.ProtocolTCP}, {8123, corev1.ProtocolTCP}, {8222, corev1.ProtocolTCP}, {9440, corev1.ProtocolTCP}, {9010, corev1.ProtocolTCP},
	{9181, corev1.ProtocolTCP}, {9234, corev1.ProtocolTCP}, {9363, corev1.ProtocolTCP},
}

func nsLabels(name string) map[string]string {
	return map[string]string{"kubernetes.io/metadata.name": name}
}

func tcp(p int32) portProto { return portProto{p, corev1.ProtocolTCP} }

// expectedFlows is the whole of what may connect to what, by
// app.kubernetes.io/name; every other pair and port must be refused.
func expectedFlows(hubPods []string) map[string]bool {
	allow := map[string]bool{}
	add := func(from, to string, ps ...portProto) {
		for _, p := range ps {
			allow[from+" -> "+to+" "+p.String()] = true
		}
	}
	for _, p := range hubPods {
		add(p, "kube-dns", portProto{53, corev1.ProtocolUDP}, portProto{53, corev1.ProtocolTCP})
	}
	for _, s := range append(slices.Clone(hubServices), "nats-streams") {
		add(s, "nats", tcp(4222))
	}
	for _, s := range hubServices {
		add("prometheus", s, tcp(8080))
	}
	add("nats", "nats", tcp(6222))
	add("prometheus", "nats", tcp(8222))
	add("loader", "clickhouse", tcp(9440))
	add("reference-import", "clickhouse", tcp(9440)) // CronJob, on demand
	add("dgos-export", "clickhouse", tcp(9440))      // CronJob, monthly
	add("indicators", "clickhouse", tcp(9440))
	add("clickhouse", "clickhouse", tcp(9440), tcp(9010))
	add("prometheus", "clickhouse", tcp(9363))
	add("clickhouse", "clickhouse-keeper", tcp(9181))
	add("clickhouse-keeper", "clickhouse-keeper", tcp(9234))
	add("prometheus", "clickhouse-keeper", tcp(9363))
	add("ingress-controller", "indicators", tcp(8090))
	add("ingest", "internet", tcp(993), tcp(143))
	add("ack", "internet", tcp(465), tcp(587))
	add("indicators", "internet", tcp(443))           // the OpenID provider
	add("crl-refresh", "internet", tcp(80), tcp(443)) // the CRL distribution points
	add("crl-refresh", "private-host", tcp(443))      // the API server (6443 is not probed)
	return allow
}

// TestNetworkFlows computes, from the rendered NetworkPolicies, every
// connection between the hub's pods and the outside on the ports that
// matter, and compares it with expectedFlows: one list of what is allowed.
func TestNetworkFlows(t *testing.T) {
	for _, ov := range overlays(t) {
		t.Run(ov, func(t *testing.T) {
			objs := objects(t, ov)
			pols := networkPolicies(objs)
			hub := hubEndpoints(t, objs)
			var ids []string
			for _, e := range hub {
				ids = append(ids, e.id)
			}
			want := expectedFlows(ids)
			all := append(slices.Clone(hub), outsiders...)
			got := map[string]bool{}
			for _, src := range all {
				for _, dst := range all {
					if src.ns != hubNamespace && dst.ns != hubNamespace {
						continue // not the hub's policies to judge
					}
					for _, p := range probedPorts {
						if allowed(pols, src, dst, p) {
							got[src.id+" -> "+dst.id+" "+p.String()] = true
						}
					}
				}
			}
			var extra, missing []string
			for k := range got {
				if !want[k] {
					extra = append(extra, k)
				}
			}
			for k := range want {
				from, to, _ := strings.Cut(k, " -> ")
				to, _, _ = strings.Cut(to, " ")
				if !slices.Contains(ids, from) && !isOutsider(from) || !slices.Contains(ids, to) && !isOutsider(to) {
					continue // a pod this overlay does not run (Keeper in dev)
				}
				if !got[k] {
					missing = append(missing, k)
				}
			}
			sort.Strings(extra)
			sort.Strings(missing)
			for _, k := range extra {
				t.Errorf("allowed but should not be: %s", k)
			}
			for _, k := range missing {
				t.Errorf("refused but needed: %s", k)
			}
		})
	}
}

func isOutsider(id string) bool {
	return slices.ContainsFunc(outsiders, func(e endpoint) bool { return e.id == id })
}

// TestPseudonymisationIngress spells out the rule the flows imply: nothing
// connects to pseudonymisation but Prometheus on its metrics port.
func TestPseudonymisationIngress(t *testing.T) {
	for _, ov := range overlays(t) {
		objs := objects(t, ov)
		pols := networkPolicies(objs)
		hub := hubEndpoints(t, objs)
		var pseudo endpoint
		for _, e := range hub {
			if e.id == "pseudonymisation" {
				pseudo = e
			}
		}
		if pseudo.id == "" {
			t.Fatalf("%s: no pseudonymisation pod", ov)
		}
		for _, src := range append(hub, outsiders...) {
			for _, p := range probedPorts {
				if allowed(pols, src, pseudo, p) && (src.id != "prometheus" || p != tcp(8080)) {
					t.Errorf("%s: %s reaches pseudonymisation on %s", ov, src.id, p)
				}
			}
		}
	}
}

// TestNetworkEvaluatorRefusesWithoutPolicies guards the evaluator itself:
// without the default-deny policy, a stranger reaches the pseudonymisation pod.
func TestNetworkEvaluatorRefusesWithoutPolicies(t *testing.T) {
	objs := objects(t, "dev")
	var pols []*networkingv1.NetworkPolicy
	for _, o := range objs {
		if p, ok := o.Value.(*networkingv1.NetworkPolicy); ok && p.Name != "default-deny" && p.Name != "services-metrics" {
			pols = append(pols, p)
		}
	}
	var pseudo endpoint
	for _, e := range hubEndpoints(t, objs) {
		if e.id == "pseudonymisation" {
			pseudo = e
		}
	}
	stranger := outsiders[4]
	if !allowed(pols, stranger, pseudo, tcp(8080)) {
		t.Fatal("with no policy selecting pseudonymisation's ingress, the evaluator still refused a stranger")
	}
}

// hubEndpoints lists one endpoint per distinct pod template of the hub.
func hubEndpoints(t *testing.T, objs []render.Object) []endpoint {
	t.Helper()
	var nsl map[string]string
	if ns, ok := find[*corev1.Namespace](objs, "Namespace", hubNamespace); ok {
		nsl = ns.Labels
	}
	// The API server adds this label to every namespace.
	nsl = mergeLabels(nsl, nsLabels(hubNamespace))
	var es []endpoint
	for _, w := range workloads(objs) {
		id := w.pod.Labels["app.kubernetes.io/name"]
		if id == "" {
			t.Fatalf("%s: pod template without app.kubernetes.io/name", w.obj)
		}
		es = append(es, endpoint{id: id, ns: hubNamespace, nsLabels: nsl, labels: w.pod.Labels})
	}
	return es
}

func mergeLabels(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// allowed says whether src may open a connection to dst on p: the egress
// policies of src (if any select it) and the ingress policies of dst (if any
// select it) must both allow it, as Kubernetes specifies.
func allowed(pols []*networkingv1.NetworkPolicy, src, dst endpoint, p portProto) bool {
	return sideAllows(pols, src, dst, p, networkingv1.PolicyTypeEgress) &&
		sideAllows(pols, dst, src, p, networkingv1.PolicyTypeIngress)
}

// sideAllows judges one side: self is the pod whose policies apply, peer
// the other end.
func sideAllows(pols []*networkingv1.NetworkPolicy, self, peer endpoint, p portProto, dir networkingv1.PolicyType) bool {
	if self.ns == "" {
		return true // outside the cluster: no policy of ours
	}
	isolated := false
	for _, pol := range pols {
		if pol.Namespace != self.ns || !selects(pol.Spec.PodSelector, self.labels) || !hasType(pol, dir) {
			continue
		}
		isolated = true
		if dir == networkingv1.PolicyTypeEgress {
			for _, r := range pol.Spec.Egress {
				if peersMatch(r.To, pol.Namespace, peer) && portsMatch(r.Ports, p) {
					return true
				}
			}
		} else {
			for _, r := range pol.Spec.Ingress {
				if peersMatch(r.From, pol.Namespace, peer) && portsMatch(r.Ports, p) {
					return true
				}
			}
		}
	}
	return !isolated
}

func hasType(pol *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) bool {
	if len(pol.Spec.PolicyTypes) == 0 {
		// Defaults: Ingress always, Egress when egress rules exist.
		return dir == networkingv1.PolicyTypeIngress || len(pol.Spec.Egress) > 0
	}
	return slices.Contains(pol.Spec.PolicyTypes, dir)
}

func selects(sel metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		panic(err) // the strict decode already accepted it; a bad operator is a bug here
	}
	return s.Matches(labels.Set(l))
}

func peersMatch(peers []networkingv1.NetworkPolicyPeer, polNS string, e endpoint) bool {
	if len(peers) == 0 {
		return true // no "from"/"to": every peer
	}
	for _, peer := range peers {
		switch {
		case peer.IPBlock != nil:
			if e.ns != "" || !e.ip.IsValid() {
				continue // pod addresses are the CNI's business; ours are not in these blocks
			}
			if inBlock(peer.IPBlock, e.ip) {
				return true
			}
		case peer.NamespaceSelector != nil:
			if e.ns == "" || !selects(*peer.NamespaceSelector, e.nsLabels) {
				continue
			}
			if peer.PodSelector == nil || selects(*peer.PodSelector, e.labels) {
				return true
			}
		case peer.PodSelector != nil:
			if e.ns == polNS && selects(*peer.PodSelector, e.labels) {
				return true
			}
		}
	}
	return false
}

func inBlock(b *networkingv1.IPBlock, ip netip.Addr) bool {
	pfx, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !pfx.Contains(ip) {
		return false
	}
	for _, ex := range b.Except {
		if e, err := netip.ParsePrefix(ex); err == nil && e.Contains(ip) {
			return false
		}
	}
	return true
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, p portProto) bool {
	if len(ports) == 0 {
		return true
	}
	for _, np := range ports {
		proto := corev1.ProtocolTCP
		if np.Protocol != nil {
			proto = *np.Protocol
		}
		if proto != p.proto {
			continue
		}
		if np.Port == nil {
			return true
		}
		if np.Port.Type != intstr.Int {
			panic("named ports in NetworkPolicies are not evaluated here: use numbers")
		}
		end := np.Port.IntVal
		if np.EndPort != nil {
			end = *np.EndPort
		}
		if p.port >= np.Port.IntVal && p.port <= end {
			return true
		}
	}
	return false
}

// networkPolicies are the NetworkPolicies among rendered objects.
func networkPolicies(objs []render.Object) []*networkingv1.NetworkPolicy {
	var pols []*networkingv1.NetworkPolicy
	for _, o := range objs {
		if p, ok := o.Value.(*networkingv1.NetworkPolicy); ok {
			pols = append(pols, p)
		}
	}
	return pols
}
