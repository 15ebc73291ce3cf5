// Package localtopo turns the rendered production overlay into what runs the
// same topology on one machine: the configuration of three NATS servers on
// loopback ports, and for every replica of every service the environment its
// Deployment sets, with only the addresses, ports and mounted paths rewritten.
// Everything else (users, permissions, stream replicas, batch sizes, TLS
// modes...) is taken as the manifests declare it, so that running it tests
// the production configuration.
package localtopo

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/bndmr/hub/deploy/k8s/render"
)

// Site says where the loopback servers are and which local folders stand
// for the Secrets.
type Site struct {
	// Dir is the state folder (.run/topology): configurations, data, logs.
	Dir string
	// Kit is the CI-SIS kit folder (the cisis-kit init container's copy).
	Kit string
	// NATS servers i = 0, 1, 2 listen on ClientPort+i, ClusterPort+i and
	// MonitorPort+i on 127.0.0.1.
	NATSClientPort, NATSClusterPort, NATSMonitorPort int
	// HTTPPort is the first operations port (/metrics); each replica takes
	// the next. APIPort likewise for the indicators' API.
	HTTPPort, APIPort int
	// IMAPAddr is the IMAPS address of the mailbox server, IMAPUser the
	// mailbox (the client certificate's name), Inbox and Processed its folders.
	IMAPAddr, IMAPUser, Inbox, Processed string
	// SMTPAddr is the implicit-TLS submission address; SMTPAuth replaces the
	// overlay's BNDMR_SMTP_AUTH ("" where the server authenticates by the
	// client certificate alone and offers no SASL EXTERNAL, as Postfix).
	SMTPAddr, SMTPAuth string
	// HubAddress is the hub's applicative mailbox (From of the MDNs).
	HubAddress string
	// ClickHouse: native addresses of the servers, the database and the
	// cluster name (<remote_servers>) to use instead of the overlay's.
	ClickHouseHosts []string
	Database        string
	Cluster         string
	// ShardMacro is the macro naming a server's shard in the replicated
	// tables' ZooKeeper paths where it is not {shard}: the loopback servers
	// carry several layouts ({shard2x2} for bndmr_2x2); production has one.
	ShardMacro string
	// ClickHouseTLS: ClickHouseHosts are secure native ports, and the
	// services keep the overlay's TLS (secure=true, CA and certificate).
	// False where the loopback servers are plaintext: the DSN loses
	// secure=true and the BNDMR_CLICKHOUSE_CA/CERT/KEY settings are
	// dropped, the one departure from the overlay (said at start).
	ClickHouseTLS bool
	// Secrets maps a Secret's name to the local folder holding its entries
	// (one file per key), as the Secret volume would.
	Secrets map[string]string
	// Passwords of the NATS users (Secret bndmr-nats-users).
	NATSPasswords map[string]string
	// Replicas overrides the replica count of a Deployment (by name).
	Replicas map[string]int
}

// File is a file to write before starting a process.
type File struct {
	Path string
	Body string
}

// Instance is one process of one service.
type Instance struct {
	Name    string // e.g. validator-1
	Service string // the Deployment, and the binary
	Env     map[string]string
	// HTTPAddr is its operations address (/healthz, /readyz, /metrics).
	HTTPAddr string
	// Files are its mounted ConfigMaps; Dirs its emptyDirs.
	Files []File
	Dirs  []string
}

// NATSNode is one server of the NATS cluster.
type NATSNode struct {
	Name    string // nats-0, nats-1, nats-2
	Conf    string // path of its nats.conf
	Files   []File
	Dirs    []string
	Env     map[string]string
	Client  string // host:port
	Monitor string // host:port
}

// Topology is everything to start.
type Topology struct {
	NATS      []NATSNode
	Instances []Instance
	// NATSURL is the servers' client URLs, comma-separated, as the services get them.
	NATSURL string
	// Provisioner is the Job nats-streams: its environment and arguments.
	Provisioner     Instance
	ProvisionerArgs []string
	// natsFiles is the nats ConfigMap as rendered; natsMounts the local
	// folders of the Secrets its servers mount, by mount path.
	natsFiles  map[string]string
	natsMounts map[string]string
}

// Build derives the local topology from the objects of a rendered overlay.
func Build(objs []render.Object, site Site) (*Topology, error) {
	cms := map[string]*corev1.ConfigMap{}
	deps := map[string]*appsv1.Deployment{}
	hpas := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	var nats *appsv1.StatefulSet
	var job *batchv1.Job
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.ConfigMap:
			cms[v.Name] = v
		case *appsv1.Deployment:
			deps[v.Name] = v
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpas[v.Spec.ScaleTargetRef.Name] = v
		case *appsv1.StatefulSet:
			if v.Name == "nats" {
				nats = v
			}
		case *batchv1.Job:
			if v.Name == "nats-streams" {
				job = v
			}
		}
	}
	if nats == nil || job == nil {
		return nil, fmt.Errorf("the overlay has no StatefulSet nats or no Job nats-streams")
	}
	t := &Topology{}
	if err := t.buildNATS(nats, cms, site); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(deps))
	for n := range deps {
		names = append(names, n)
	}
	sort.Strings(names)
	port, api := site.HTTPPort, site.APIPort
	for _, name := range names {
		d := deps[name]
		for i := range replicas(name, d, hpas[name], site) {
			inst, err := t.pod(&d.Spec.Template.Spec, fmt.Sprintf("%s-%d", name, i), name, cms, site)
			if err != nil {
				return nil, fmt.Errorf("Deployment %s: %w", name, err)
			}
			inst.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
			port++
			if _, ok := inst.Env["BNDMR_HTTP_ADDR"]; ok {
				inst.Env["BNDMR_HTTP_ADDR"] = inst.HTTPAddr
			}
			if _, ok := inst.Env["BNDMR_INDICATORS_ADDR"]; ok {
				serveAPIWithoutSignIn(inst.Env, fmt.Sprintf("127.0.0.1:%d", api))
				api++
			}
			t.Instances = append(t.Instances, inst)
		}
	}
	prov, err := t.pod(&job.Spec.Template.Spec, "nats-streams", "bndmrctl", cms, site)
	if err != nil {
		return nil, fmt.Errorf("Job nats-streams: %w", err)
	}
	t.Provisioner = prov
	t.ProvisionerArgs = job.Spec.Template.Spec.Containers[0].Args
	for _, inst := range append(t.Instances, t.Provisioner) {
		if err := checkLoopback(inst.Env); err != nil {
			return nil, fmt.Errorf("%s: %w", inst.Name, err)
		}
	}
	return t, nil
}

// replicas is how many instances of Deployment name run: the site's
// choice, else the Deployment's, else its HPA's minimum, else 1.
func replicas(name string, d *appsv1.Deployment, hpa *autoscalingv2.HorizontalPodAutoscaler, site Site) int {
	switch {
	case site.Replicas[name] > 0:
		return site.Replicas[name]
	case d.Spec.Replicas != nil:
		return int(*d.Spec.Replicas)
	case hpa != nil && hpa.Spec.MinReplicas != nil:
		// The HPA owns the count: start at its minimum.
		return int(*hpa.Spec.MinReplicas)
	}
	return 1
}

// serveAPIWithoutSignIn sets the indicators API address of an instance's
// environment. One machine, loopback only: no provider to sign in with, so
// none of the sign-in settings of the overlay apply.
func serveAPIWithoutSignIn(env map[string]string, addr string) {
	env["BNDMR_INDICATORS_ADDR"] = addr
	env["BNDMR_AUTH"] = "none"
	for k := range env {
		if strings.HasPrefix(k, "BNDMR_OIDC_") || k == "BNDMR_PUBLIC_URL" || k == "BNDMR_SESSION_SECRET_FILE" {
			delete(env, k)
		}
	}
}

// buildNATS makes, for each server of the StatefulSet, its nats.conf with
// loopback listen addresses, local storage and loopback routes; auth.conf
// and everything else are kept as rendered.
func (t *Topology) buildNATS(ss *appsv1.StatefulSet, cms map[string]*corev1.ConfigMap, site Site) error {
	n := 1
	if ss.Spec.Replicas != nil {
		n = int(*ss.Spec.Replicas)
	}
	var cm *corev1.ConfigMap
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cm = cms[v.ConfigMap.Name]
		}
	}
	if cm == nil || cm.Data["nats.conf"] == "" {
		return fmt.Errorf("StatefulSet nats: its ConfigMap with nats.conf is not rendered")
	}
	var urls []string
	for i := 0; i < n; i++ {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", site.NATSClientPort+i))
	}
	t.NATSURL = strings.Join(urls, ",")
	t.natsFiles = cm.Data
	// The Secrets the servers mount (their certificate): the site's folders.
	mounts := map[string]string{}
	vols := map[string]corev1.Volume{}
	for _, v := range ss.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, m := range ss.Spec.Template.Spec.Containers[0].VolumeMounts {
		if v, ok := vols[m.Name]; ok && v.Secret != nil {
			local, ok := site.Secrets[v.Secret.SecretName]
			if !ok {
				return fmt.Errorf("StatefulSet %s: Secret %s: no local folder given for it", ss.Name, v.Secret.SecretName)
			}
			mounts[m.MountPath] = local
		}
	}
	t.natsMounts = mounts
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d", ss.Name, i)
		dir := filepath.Join(site.Dir, "nats", name)
		conf, err := RewriteNATSConf(cm.Data["nats.conf"], NATSRewrite{
			Client:  fmt.Sprintf("127.0.0.1:%d", site.NATSClientPort+i),
			Cluster: fmt.Sprintf("127.0.0.1:%d", site.NATSClusterPort+i),
			Monitor: fmt.Sprintf("127.0.0.1:%d", site.NATSMonitorPort+i),
			Store:   filepath.Join(dir, "data", "jetstream"),
			Path: func(p string) (string, error) {
				local := localPath(p, mounts)
				if local == p {
					return "", fmt.Errorf("%s is under no Secret the StatefulSet mounts", p)
				}
				return local, nil
			},
			Route: func(host string) (string, error) {
				// <statefulset>-K.<headless service>: server K.
				var k int
				if _, err := fmt.Sscanf(host, ss.Name+"-%d."+ss.Spec.ServiceName, &k); err != nil || k < 0 || k >= n {
					return "", fmt.Errorf("route host %q is not a server of StatefulSet %s", host, ss.Name)
				}
				return fmt.Sprintf("127.0.0.1:%d", site.NATSClusterPort+k), nil
			},
		})
		if err != nil {
			return fmt.Errorf("nats.conf of %s: %w", name, err)
		}
		node := NATSNode{Name: name, Conf: filepath.Join(dir, "nats.conf"), Dirs: []string{filepath.Join(dir, "data")},
			Client: fmt.Sprintf("127.0.0.1:%d", site.NATSClientPort+i), Monitor: fmt.Sprintf("127.0.0.1:%d", site.NATSMonitorPort+i)}
		for _, k := range sortedKeys(cm.Data) {
			body := cm.Data[k]
			if k == "nats.conf" {
				body = conf
			}
			node.Files = append(node.Files, File{filepath.Join(dir, k), body})
		}
		if node.Env, err = containerEnv(ss.Spec.Template.Spec.Containers[0], name, cms, site); err != nil {
			return fmt.Errorf("StatefulSet nats: %w", err)
		}
		t.NATS = append(t.NATS, node)
	}
	return nil
}

// pod is one process of a pod template: the environment of its first
// container with addresses and mounted paths made local. Volumes are
// materialised under the instance's folder: a ConfigMap's files are written
// there (addresses rewritten), a Secret is the site's folder for it, an
// emptyDir a folder of its own (the kit for the cisis-kit one, which the
// init container fills from the kit image).
func (t *Topology) pod(pod *corev1.PodSpec, name, service string, cms map[string]*corev1.ConfigMap, site Site) (Instance, error) {
	inst := Instance{Name: name, Service: service}
	dir := filepath.Join(site.Dir, "instances", name)
	c := pod.Containers[0]
	env, err := containerEnv(c, name, cms, site)
	if err != nil {
		return inst, err
	}
	mounts := map[string]string{} // mountPath -> local folder
	var cmMounts []corev1.VolumeMount
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		vol, ok := vols[m.Name]
		if !ok {
			return inst, fmt.Errorf("mount %s: no volume %s", m.MountPath, m.Name)
		}
		switch {
		case vol.Secret != nil && len(vol.Secret.Items) > 0:
			// Some keys under other names (a service's own certificate
			// as tls.crt): copied into a folder of the instance's own.
			mounts[m.MountPath] = filepath.Join(dir, "volumes", m.Name)
			for _, it := range vol.Secret.Items {
				b, err := secretValue(site, vol.Secret.SecretName, it.Key)
				if err != nil {
					return inst, fmt.Errorf("mount %s: %w", m.MountPath, err)
				}
				inst.Files = append(inst.Files, File{filepath.Join(mounts[m.MountPath], it.Path), b + "\n"})
			}
		case vol.Secret != nil:
			local, ok := site.Secrets[vol.Secret.SecretName]
			if !ok {
				return inst, fmt.Errorf("Secret %s: no local folder given for it", vol.Secret.SecretName)
			}
			mounts[m.MountPath] = local
		case vol.ConfigMap != nil:
			mounts[m.MountPath] = filepath.Join(dir, "volumes", m.Name)
			cmMounts = append(cmMounts, m)
		case vol.EmptyDir != nil && m.Name == "cisis-kit":
			mounts[m.MountPath] = site.Kit
		case vol.EmptyDir != nil:
			mounts[m.MountPath] = filepath.Join(dir, "volumes", m.Name)
			inst.Dirs = append(inst.Dirs, mounts[m.MountPath])
		default:
			return inst, fmt.Errorf("volume %s: kind not handled here", m.Name)
		}
	}
	for _, m := range cmMounts {
		cm := cms[vols[m.Name].ConfigMap.Name]
		if cm == nil {
			return inst, fmt.Errorf("ConfigMap %s not rendered", vols[m.Name].ConfigMap.Name)
		}
		for _, k := range sortedKeys(cm.Data) {
			body := cm.Data[k]
			if k == "mailboxes.json" {
				if body, err = rewriteMailboxes(body, mounts, site); err != nil {
					return inst, fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
				}
			}
			inst.Files = append(inst.Files, File{filepath.Join(mounts[m.MountPath], k), body})
		}
	}
	for k, v := range env {
		if env[k], err = localValue(k, v, mounts, site, t); err != nil {
			return inst, err
		}
	}
	if _, ok := env["BNDMR_CLICKHOUSE_CLUSTER"]; ok && site.ShardMacro != "" {
		env["BNDMR_CLICKHOUSE_SHARD_MACRO"] = site.ShardMacro
	}
	if !site.ClickHouseTLS {
		for _, k := range []string{"BNDMR_CLICKHOUSE_CA", "BNDMR_CLICKHOUSE_CERT", "BNDMR_CLICKHOUSE_KEY"} {
			delete(env, k)
		}
	}
	inst.Env = env
	return inst, nil
}

// containerEnv resolves a container's environment as the kubelet does:
// envFrom ConfigMaps, then env entries (values with $(VAR) references,
// Secret keys, the pod name).
func containerEnv(c corev1.Container, podName string, cms map[string]*corev1.ConfigMap, site Site) (map[string]string, error) {
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			return nil, fmt.Errorf("envFrom other than a ConfigMap")
		}
		cm := cms[ef.ConfigMapRef.Name]
		if cm == nil {
			return nil, fmt.Errorf("ConfigMap %s not rendered", ef.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = expandRefs(e.Value, env)
		case e.ValueFrom.SecretKeyRef != nil:
			v, err := secretValue(site, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name, err)
			}
			env[e.Name] = v
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = podName
		default:
			return nil, fmt.Errorf("%s: valueFrom kind not handled here", e.Name)
		}
	}
	return env, nil
}

var refRE = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expandRefs replaces $(VAR) by the value of an earlier variable, as
// Kubernetes does; an unknown reference stays as written.
func expandRefs(s string, env map[string]string) string {
	return refRE.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// secretValue reads one key of a Secret: the NATS passwords from the site,
// any other from the Secret's local folder.
func secretValue(site Site, secret, key string) (string, error) {
	if secret == "bndmr-nats-users" {
		pw, ok := site.NATSPasswords[key]
		if !ok {
			return "", fmt.Errorf("no test password for NATS user %s", key)
		}
		return pw, nil
	}
	dir, ok := site.Secrets[secret]
	if !ok {
		return "", fmt.Errorf("Secret %s: no local folder given for it", secret)
	}
	b, err := os.ReadFile(filepath.Join(dir, key))
	if err != nil {
		return "", fmt.Errorf("Secret %s: %w", secret, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// localValue rewrites one setting for loopback: the servers' addresses, and
// paths under a mount to the local folder standing for it.
func localValue(name, v string, mounts map[string]string, site Site, t *Topology) (string, error) {
	switch name {
	case "BNDMR_NATS_URL":
		if strings.HasPrefix(v, "tls://") {
			return strings.ReplaceAll(t.NATSURL, "nats://", "tls://"), nil
		}
		return t.NATSURL, nil
	case "BNDMR_CLICKHOUSE":
		u, err := url.Parse(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		// The loopback servers have only the default user, without password.
		u.User = nil
		u.Host = strings.Join(site.ClickHouseHosts, ",")
		u.Path = "/" + site.Database
		if !site.ClickHouseTLS {
			q := u.Query()
			q.Del("secure")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	case "BNDMR_CLICKHOUSE_CLUSTER":
		return site.Cluster, nil
	case "BNDMR_SMTP_ADDR":
		return site.SMTPAddr, nil
	case "BNDMR_SMTP_AUTH":
		return site.SMTPAuth, nil
	case "BNDMR_HUB_ADDRESS":
		return site.HubAddress, nil
	}
	return localPath(v, mounts), nil
}

// localPath maps a path under a mount point to the local folder.
func localPath(p string, mounts map[string]string) string {
	best := ""
	for m := range mounts {
		if (p == m || strings.HasPrefix(p, strings.TrimSuffix(m, "/")+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return p
	}
	return filepath.Join(mounts[best], strings.TrimPrefix(p, best))
}

// rewriteMailboxes points the ConfigMap's mailboxes at the loopback IMAPS
// server and its test folders; TLS mode, authentication and certificate
// files (through their mount) stay as declared.
func rewriteMailboxes(body string, mounts map[string]string, site Site) (string, error) {
	var mbs []map[string]any
	if err := json.Unmarshal([]byte(body), &mbs); err != nil {
		return "", fmt.Errorf("mailboxes.json: %w", err)
	}
	if len(mbs) != 1 {
		return "", fmt.Errorf("mailboxes.json: %d mailboxes, the local topology reads one", len(mbs))
	}
	for _, mb := range mbs {
		mb["Addr"], mb["User"], mb["Name"] = site.IMAPAddr, site.IMAPUser, site.IMAPUser
		mb["Inbox"], mb["Processed"] = site.Inbox, site.Processed
		for _, k := range []string{"CAFile", "CertFile", "KeyFile", "CRLFile"} {
			if p, ok := mb[k].(string); ok && p != "" {
				mb[k] = localPath(p, mounts)
			}
		}
	}
	b, err := json.MarshalIndent(mbs, "", "  ")
	return string(b) + "\n", err
}

// checkLoopback refuses a setting still naming a cluster host or an
// absolute path of the pod: something this package forgot to rewrite.
func checkLoopback(env map[string]string) error {
	for _, k := range sortedKeys(env) {
		v := env[k]
		if strings.Contains(v, ".example") || strings.Contains(v, "nats://nats") || strings.Contains(v, "@clickhouse") ||
			strings.HasPrefix(v, "/var/") || strings.HasPrefix(v, "/etc/") || strings.Contains(v, "$(") {
			return fmt.Errorf("%s=%q is not rewritten for loopback", k, v)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NATSRewrite is what changes in nats.conf on loopback.
type NATSRewrite struct {
	Client, Cluster, Monitor string
	Store                    string
	// Path maps a file of a tls block (under a mounted Secret) to its
	// local copy.
	Path func(string) (string, error)
	// Route maps a route's host to host:port.
	Route func(host string) (string, error)
}

// RewriteNATSConf rewrites the listen addresses, the JetStream store and the
// cluster routes of a NATS configuration; every other line is kept. Each
// setting it rewrites must be found, so a change of the manifest's layout
// fails here rather than starting servers on the pod's addresses.
func RewriteNATSConf(conf string, r NATSRewrite) (string, error) {
	var out strings.Builder
	var block []string // enclosing blocks
	seen := map[string]int{}
	routeRE := regexp.MustCompile(`nats://([^:\s]+):\d+`)
	sc := bufio.NewScanner(strings.NewReader(conf))
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		key, _, _ := strings.Cut(trim, ":")
		key = strings.TrimSpace(key)
		where := strings.Join(block, ".")
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		switch {
		case where == "" && key == "listen":
			line, seen["listen"] = indent+"listen: "+r.Client, seen["listen"]+1
		case where == "" && key == "http":
			line, seen["http"] = indent+"http: "+r.Monitor, seen["http"]+1
		case where == "jetstream" && key == "store_dir":
			line, seen["store_dir"] = indent+"store_dir: "+r.Store, seen["store_dir"]+1
		case where == "cluster" && key == "listen":
			line, seen["cluster.listen"] = indent+"listen: "+r.Cluster, seen["cluster.listen"]+1
		case (key == "cert_file" || key == "key_file" || key == "ca_file") && strings.HasSuffix(where, "tls"):
			_, v, _ := strings.Cut(trim, ":")
			local, err := r.Path(strings.Trim(strings.TrimSpace(v), `"'`))
			if err != nil {
				return "", fmt.Errorf("%s.%s: %w", where, key, err)
			}
			line, seen["tls"] = indent+key+": "+strconv.Quote(local), seen["tls"]+1
		case where == "cluster.routes" && routeRE.MatchString(trim):
			host := routeRE.FindStringSubmatch(trim)[1]
			addr, err := r.Route(host)
			if err != nil {
				return "", err
			}
			line, seen["route"] = indent+"nats://"+addr, seen["route"]+1
		}
		if !strings.HasPrefix(trim, "#") {
			if strings.HasSuffix(trim, "{") || strings.HasSuffix(trim, "[") {
				name := strings.TrimSpace(strings.TrimRight(strings.TrimSuffix(strings.TrimSuffix(trim, "{"), "["), " :="))
				block = append(block, name)
			}
			if (trim == "}" || trim == "]") && len(block) > 0 {
				block = block[:len(block)-1]
			}
		}
		out.WriteString(line + "\n")
	}
	for _, k := range []string{"listen", "http", "store_dir"} {
		if seen[k] != 1 {
			return "", fmt.Errorf("%s found %d times, want once", k, seen[k])
		}
	}
	if (seen["cluster.listen"] == 0) != (seen["route"] == 0) {
		return "", fmt.Errorf("cluster listen found %d times and %d routes", seen["cluster.listen"], seen["route"])
	}
	return out.String(), sc.Err()
}

// Write creates the files and folders of the topology and, for the
// scripts, one environment file per process (shell-quoted KEY='value'
// lines) and the list of processes.
func (t *Topology) Write(dir string) error {
	write := func(p, body string, mode os.FileMode) error {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(body), mode)
	}
	var list strings.Builder
	for _, n := range t.NATS {
		for _, d := range n.Dirs {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return err
			}
		}
		for _, f := range n.Files {
			if err := write(f.Path, f.Body, 0o600); err != nil {
				return err
			}
		}
		if err := write(filepath.Join(filepath.Dir(n.Conf), "env"), envFile(n.Env), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(&list, "nats %s %s %s %s\n", n.Name, n.Client, n.Monitor, n.Conf)
	}
	for _, inst := range append(t.Instances, t.Provisioner) {
		idir := filepath.Join(dir, "instances", inst.Name)
		for _, d := range append(inst.Dirs, idir) {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return err
			}
		}
		for _, f := range inst.Files {
			if err := write(f.Path, f.Body, 0o600); err != nil {
				return err
			}
		}
		if err := write(filepath.Join(idir, "env"), envFile(inst.Env), 0o600); err != nil {
			return err
		}
		if inst.Name != t.Provisioner.Name {
			fmt.Fprintf(&list, "service %s %s %s\n", inst.Name, inst.Service, inst.HTTPAddr)
		}
	}
	fmt.Fprintf(&list, "job %s %s %s\n", t.Provisioner.Name, t.Provisioner.Service, strings.Join(t.ProvisionerArgs, " "))
	if err := write(filepath.Join(dir, "processes"), list.String(), 0o644); err != nil {
		return err
	}
	return write(filepath.Join(dir, "nats-url"), t.NATSURL+"\n", 0o644)
}

// envFile renders env as shell assignments, single-quoted.
func envFile(env map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(env) {
		fmt.Fprintf(&b, "%s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return b.String()
}
