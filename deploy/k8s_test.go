package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"wxlogin/auth"
	"wxlogin/edge"
)

// kustomization is the part of kustomize's Kustomization this directory
// uses; strict decoding refuses anything else.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// manifests are deploy/k8s's objects, decoded strictly into the Kubernetes
// API types: a field the API does not have (a typo, a wrong indent) fails.
type manifests struct {
	files      map[string][]any // file → its objects
	deploy     *appsv1.Deployment
	job        *batchv1.Job
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	netpol     *networkingv1.NetworkPolicy
	configMap  *corev1.ConfigMap
	secret     *corev1.Secret
	pvc        *corev1.PersistentVolumeClaim
	kustomize  *kustomization
	objectsSet []string // kind/name
}

// newObject is the typed object for an apiVersion and kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q: not a type this test knows (add it to newObject)", apiVersion, kind)
}

// decodeManifests reads every YAML document of every file in dir.
func decodeManifests(dir string) (*manifests, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if yml, _ := filepath.Glob(filepath.Join(dir, "*.yml")); len(yml) > 0 {
		return nil, fmt.Errorf("%v: name manifests *.yaml", yml)
	}
	m := &manifests{files: map[string][]any{}}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(path)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			obj, err := newObject(tm.APIVersion, tm.Kind)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if err := decodeStrict(doc, obj); err != nil {
				return nil, fmt.Errorf("%s (%s): %w", name, tm.Kind, err)
			}
			m.files[name] = append(m.files[name], obj)
			if err := m.add(obj); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return m, nil
}

// decodeStrict decodes one YAML document as the API server's strict field
// validation does: duplicate keys, unknown fields and fields spelt in
// another case (readOnlyRootFileSystem) are errors. (sigs.k8s.io/yaml's
// UnmarshalStrict alone matches field names case-insensitively, as
// encoding/json does.)
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func (m *manifests) add(obj any) error {
	var meta *metav1.ObjectMeta
	var kind string
	dup := func(set bool) error {
		if set {
			return fmt.Errorf("a second %T", obj)
		}
		return nil
	}
	var err error
	switch o := obj.(type) {
	case *appsv1.Deployment:
		err, m.deploy, meta, kind = dup(m.deploy != nil), o, &o.ObjectMeta, o.Kind
	case *batchv1.Job:
		err, m.job, meta, kind = dup(m.job != nil), o, &o.ObjectMeta, o.Kind
	case *corev1.Service:
		err, m.service, meta, kind = dup(m.service != nil), o, &o.ObjectMeta, o.Kind
	case *corev1.ConfigMap:
		err, m.configMap, meta, kind = dup(m.configMap != nil), o, &o.ObjectMeta, o.Kind
	case *corev1.Secret:
		err, m.secret, meta, kind = dup(m.secret != nil), o, &o.ObjectMeta, o.Kind
	case *corev1.PersistentVolumeClaim:
		err, m.pvc, meta, kind = dup(m.pvc != nil), o, &o.ObjectMeta, o.Kind
	case *policyv1.PodDisruptionBudget:
		err, m.pdb, meta, kind = dup(m.pdb != nil), o, &o.ObjectMeta, o.Kind
	case *autoscalingv2.HorizontalPodAutoscaler:
		err, m.hpa, meta, kind = dup(m.hpa != nil), o, &o.ObjectMeta, o.Kind
	case *networkingv1.NetworkPolicy:
		err, m.netpol, meta, kind = dup(m.netpol != nil), o, &o.ObjectMeta, o.Kind
	case *kustomization:
		m.kustomize = o
		return dup(false)
	}
	if err != nil {
		return err
	}
	if errs := validation.IsDNS1123Subdomain(meta.Name); len(errs) > 0 {
		return fmt.Errorf("%s name %q: %s", kind, meta.Name, strings.Join(errs, "; "))
	}
	if meta.Namespace != "" {
		return fmt.Errorf("%s %s names namespace %s: the manifests are namespace-agnostic (kubectl -n, or kustomize's namespace)", kind, meta.Name, meta.Namespace)
	}
	for k, v := range meta.Labels {
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return fmt.Errorf("%s %s label %s=%s: %s", kind, meta.Name, k, v, strings.Join(errs, "; "))
		}
	}
	m.objectsSet = append(m.objectsSet, kind+"/"+meta.Name)
	return nil
}

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func TestKubernetes(t *testing.T) {
	srv := readServer(t)
	m, err := decodeManifests("k8s")
	if err != nil {
		t.Fatal(err)
	}
	for _, missing := range []struct {
		ok   bool
		what string
	}{{m.deploy != nil, "Deployment"}, {m.job != nil, "Job"}, {m.service != nil, "Service"}, {m.pdb != nil, "PodDisruptionBudget"},
		{m.configMap != nil, "ConfigMap"}, {m.secret != nil, "Secret"}, {m.pvc != nil, "PersistentVolumeClaim"}, {m.hpa != nil, "HorizontalPodAutoscaler"}, {m.netpol != nil, "NetworkPolicy"}, {m.kustomize != nil, "kustomization.yaml"}} {
		if !missing.ok {
			t.Fatalf("deploy/k8s has no %s", missing.what)
		}
	}
	d := m.deploy
	pod := d.Spec.Template.Spec
	podLabels := labels.Set(d.Spec.Template.Labels)

	// Selectors: the Deployment's own, the Service's, the PDB's, the spread's.
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pods' labels %v (%v)", d.Spec.Selector, podLabels, err)
	}
	if len(m.service.Spec.Selector) == 0 || !labels.SelectorFromSet(m.service.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match the pods' labels %v", m.service.Spec.Selector, podLabels)
	}
	if m.job != nil && labels.SelectorFromSet(m.service.Spec.Selector).Matches(labels.Set(m.job.Spec.Template.Labels)) {
		t.Error("the Service's selector matches the migration Job's pod too")
	}
	if sel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not match the pods' labels (%v)", m.pdb.Spec.Selector, err)
	}
	if len(pod.TopologySpreadConstraints) == 0 {
		t.Error("Deployment has no topologySpreadConstraints: both replicas may land on one node")
	}
	for _, c := range pod.TopologySpreadConstraints {
		if sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector); err != nil || sel.Empty() || !sel.Matches(podLabels) {
			t.Errorf("topologySpreadConstraint on %s does not select the pods", c.TopologyKey)
		}
	}

	// Replicas and disruptions: two instances, one may go.
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	if replicas < 2 {
		t.Errorf("Deployment replicas %d, want at least 2", replicas)
	}
	if m.pdb.Spec.MinAvailable == nil || m.pdb.Spec.MinAvailable.IntValue() != 1 || m.pdb.Spec.MaxUnavailable != nil {
		t.Errorf("PodDisruptionBudget: want minAvailable 1, have %v / maxUnavailable %v", m.pdb.Spec.MinAvailable, m.pdb.Spec.MaxUnavailable)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("Deployment: want a RollingUpdate with maxUnavailable 0, so a rollout never drops below the replicas")
	}
	if h := m.hpa.Spec; h.ScaleTargetRef.Kind != "Deployment" || h.ScaleTargetRef.Name != d.Name || h.ScaleTargetRef.APIVersion != "apps/v1" ||
		h.MinReplicas == nil || *h.MinReplicas < 2 || h.MaxReplicas < *h.MinReplicas {
		t.Errorf("HorizontalPodAutoscaler %+v: want Deployment %s, minReplicas ≥ 2", h.ScaleTargetRef, d.Name)
	}

	// The container: image, command, port, probes, resources, hardening.
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) || len(c.Command) > 0 {
		t.Errorf("Deployment runs command %v args %v, want args [serve] (the image's ENTRYPOINT is /wxlogin)", c.Command, c.Args)
	}
	if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
		t.Errorf("Deployment image %q: want a pinned tag", c.Image)
	}
	cm := m.configMap.Data
	port := srv.port()
	if p, ok := cm["PORT"]; ok && p != fmt.Sprint(port) {
		t.Errorf("ConfigMap PORT %s, Dockerfile EXPOSE and the server's default %d", p, port)
	}
	var httpPort *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			httpPort = &c.Ports[i]
		}
	}
	if httpPort == nil || int(httpPort.ContainerPort) != port {
		t.Fatalf("Deployment: want a port named http on %d, have %+v", port, c.Ports)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil {
			t.Errorf("Deployment %s: want an httpGet probe on %s", name, path)
			return
		}
		if p.HTTPGet.Path != path || !srv.probes[p.HTTPGet.Path] {
			t.Errorf("Deployment %s probes %s, want %s (server.go serves %v)", name, p.HTTPGet.Path, path, sortedKeys(srv.probes))
		}
		if pp := p.HTTPGet.Port; pp.String() != httpPort.Name && pp.IntValue() != port {
			t.Errorf("Deployment %s probes port %s, not the server's %s/%d", name, pp.String(), httpPort.Name, port)
		}
	}
	probe("readinessProbe", c.ReadinessProbe, "/readyz")
	probe("livenessProbe", c.LivenessProbe, "/healthz")
	probe("startupProbe", c.StartupProbe, "/healthz")
	if sp := c.StartupProbe; sp != nil {
		startup := parseDur(t, "STARTUP_TIMEOUT", cmpOr(cm["STARTUP_TIMEOUT"], srv.env["STARTUP_TIMEOUT"]))
		period, failures := cmpOrInt(sp.PeriodSeconds, 10), cmpOrInt(sp.FailureThreshold, 3) // Kubernetes' defaults
		if budget := time.Duration(sp.InitialDelaySeconds+period*failures) * time.Second; budget < startup {
			t.Errorf("startupProbe gives up after %v, before STARTUP_TIMEOUT (%v) of connecting and migrating", budget, startup)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim || req.Cmp(lim) > 0 {
			t.Errorf("Deployment resources %s: want a request no larger than the limit, have %v / %v", r, req.String(), lim.String())
		}
	}
	checkHardened(t, "Deployment", pod, c)

	// Draining: grace period > preStop pause + SHUTDOWN_TIMEOUT.
	shutdown := parseDur(t, "ConfigMap SHUTDOWN_TIMEOUT", cmpOr(cm["SHUTDOWN_TIMEOUT"], srv.env["SHUTDOWN_TIMEOUT"]))
	var preStop time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("Deployment: want a preStop sleep (no shell in the image), so endpoints drop the pod before SIGTERM")
	} else {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		if preStop <= 0 {
			t.Error("Deployment preStop sleeps 0s")
		}
	}
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= preStop+shutdown {
		t.Errorf("terminationGracePeriodSeconds %v must exceed preStop (%v) + SHUTDOWN_TIMEOUT (%v), or the drain is SIGKILLed",
			pod.TerminationGracePeriodSeconds, preStop, shutdown)
	}

	// Settings: from the ConfigMap and the Secret, each a setting the
	// server reads, with values it accepts.
	var fromCM, fromSecret bool
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == m.configMap.Name:
			fromCM = true
		case ef.SecretRef != nil && ef.SecretRef.Name == m.secret.Name:
			fromSecret = true
		default:
			t.Errorf("Deployment envFrom %+v names neither the ConfigMap %s nor the Secret %s", ef, m.configMap.Name, m.secret.Name)
		}
	}
	if !fromCM || !fromSecret {
		t.Errorf("Deployment: want envFrom the ConfigMap %s and the Secret %s", m.configMap.Name, m.secret.Name)
	}
	var envNames []string
	for _, e := range c.Env {
		envNames = append(envNames, e.Name)
	}
	checkEnvNames(t, "Deployment env", envNames, srv)
	checkEnvNames(t, "ConfigMap", sortedKeys(cm), srv)
	secret := secretData(m.secret)
	checkEnvNames(t, "Secret", sortedKeys(secret), srv)
	for _, k := range sortedKeys(cm) {
		if _, ok := secret[k]; ok {
			t.Errorf("%s is in both the ConfigMap and the Secret", k)
		}
	}
	for _, k := range []string{"DATABASE_URL", "SECRET_KEY", "WECHAT_SECRET", "REDIS_URL", "WECHAT_APPS"} {
		if _, ok := cm[k]; ok {
			t.Errorf("ConfigMap holds %s, a secret: put it in the Secret", k)
		}
	}
	for _, k := range []string{"DATABASE_URL", "SECRET_KEY"} {
		if _, ok := secret[k]; !ok {
			t.Errorf("the Secret example lacks %s, which the server requires", k)
		}
	}
	if _, err := auth.ParseSecretKey(secret["SECRET_KEY"]); err == nil {
		t.Error("secret.example.yaml's SECRET_KEY is a usable key; it must be a placeholder the server refuses")
	}
	if cm["DEV_WECHAT"] != "" || secret["DEV_WECHAT"] != "" {
		t.Error("DEV_WECHAT is set: never in a deployment")
	}
	if _, err := edge.ParseProxies(cm["TRUSTED_PROXIES"]); err != nil {
		t.Errorf("ConfigMap TRUSTED_PROXIES: %v", err)
	}
	// A whole private range trusted as proxies lets any pod in it name its
	// own address; /16 is the widest a pod network of one cluster needs.
	for _, s := range strings.Split(cm["TRUSTED_PROXIES"], ",") {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && p.Bits() < 16 {
			t.Errorf("ConfigMap TRUSTED_PROXIES trusts %v: narrow it to the ingress controller's range", p)
		}
	}
	checkNetworkPolicy(t, m.netpol, podLabels, httpPort.Name)

	// Volumes: avatars on the shared claim at AVATAR_DIR, the database CA
	// where DATABASE_URL's sslrootcert points.
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for name := range mounts {
		if _, ok := volumes[name]; !ok {
			t.Errorf("Deployment mounts volume %s, which it does not declare", name)
		}
	}
	var avatars bool
	for name, vm := range mounts {
		if v := volumes[name]; vm.MountPath == cm["AVATAR_DIR"] && !vm.ReadOnly && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == m.pvc.Name {
			avatars = true
		}
	}
	if !avatars || cm["AVATAR_DIR"] == "" {
		t.Errorf("Deployment: want the claim %s mounted at AVATAR_DIR (%q)", m.pvc.Name, cm["AVATAR_DIR"])
	}
	if !slices.Contains(m.pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("PersistentVolumeClaim %s: every instance writes avatars, so want ReadWriteMany, have %v", m.pvc.Name, m.pvc.Spec.AccessModes)
	}
	checkDatabaseURL(t, "Deployment", secret["DATABASE_URL"], c.VolumeMounts)

	// The migration Job: the same image, `migrate`, run to completion.
	j := m.job
	jpod := j.Spec.Template.Spec
	if len(jpod.Containers) != 1 {
		t.Fatalf("Job has %d containers, want 1", len(jpod.Containers))
	}
	jc := jpod.Containers[0]
	if jc.Image != c.Image {
		t.Errorf("Job image %s, Deployment image %s: they must be one", jc.Image, c.Image)
	}
	if !slices.Equal(jc.Args, []string{"migrate"}) || len(jc.Command) > 0 || !srv.commands["migrate"] {
		t.Errorf("Job runs command %v args %v, want args [migrate]", jc.Command, jc.Args)
	}
	if jpod.RestartPolicy != corev1.RestartPolicyNever && jpod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("Job restartPolicy %q", jpod.RestartPolicy)
	}
	if j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil {
		t.Error("Job: want a backoffLimit and an activeDeadlineSeconds")
	}
	var jobDB bool
	for _, e := range jc.Env {
		if e.Name == "DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
			e.ValueFrom.SecretKeyRef.Name == m.secret.Name && e.ValueFrom.SecretKeyRef.Key == "DATABASE_URL" {
			jobDB = true
		}
	}
	if !jobDB {
		t.Errorf("Job: want DATABASE_URL from the Secret %s", m.secret.Name)
	}
	var jobEnv []string
	for _, e := range jc.Env {
		jobEnv = append(jobEnv, e.Name)
	}
	checkEnvNames(t, "Job env", jobEnv, srv)
	checkHardened(t, "Job", jpod, jc)
	checkDatabaseURL(t, "Job", secret["DATABASE_URL"], jc.VolumeMounts)

	// The Service reaches the http port.
	if len(m.service.Spec.Ports) != 1 || m.service.Spec.Ports[0].TargetPort.String() != httpPort.Name && m.service.Spec.Ports[0].TargetPort.IntValue() != port {
		t.Errorf("Service ports %+v: want one whose targetPort is %s", m.service.Spec.Ports, httpPort.Name)
	}

	// kustomization.yaml lists every manifest but the Secret example (real
	// secrets are made apart) and the Job (run before each rollout).
	var want []string
	for name := range m.files {
		if name != "kustomization.yaml" && name != "secret.example.yaml" && name != "migrate-job.yaml" {
			want = append(want, name)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(m.kustomize.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources %v, want %v", got, want)
	}
	t.Logf("decoded %v", m.objectsSet)
}

// checkHardened: non-root as the image's user, no privilege escalation, a
// read-only root, no capabilities, the runtime's seccomp profile.
func checkHardened(t *testing.T, what string, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("%s: want a pod securityContext with runAsNonRoot and runAsUser 65532 (the image's USER)", what)
	} else if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: want seccompProfile RuntimeDefault", what)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: want automountServiceAccountToken false: the server never calls the Kubernetes API", what)
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s container: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities drop ALL", what)
	}
}

// checkDatabaseURL: production verifies the database's certificate, and a
// private CA's file is where a volume is mounted.
func checkDatabaseURL(t *testing.T, what, dsn string, mounts []corev1.VolumeMount) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Errorf("Secret DATABASE_URL: %v", err)
		return
	}
	q := u.Query()
	if q.Get("sslmode") != "verify-full" {
		t.Errorf("Secret DATABASE_URL sslmode=%q: production wants verify-full (docs/operations.md, Database connections and TLS)", q.Get("sslmode"))
	}
	if ca := q.Get("sslrootcert"); ca != "" {
		var mounted bool
		for _, vm := range mounts {
			if strings.HasPrefix(ca, strings.TrimSuffix(vm.MountPath, "/")+"/") {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("%s: DATABASE_URL's sslrootcert %s is under no volume mount", what, ca)
		}
	}
}

func secretData(s *corev1.Secret) map[string]string {
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

func cmpOrInt(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

// checkNetworkPolicy: the server pods admit connections on their http port
// from the ingress controller's pods only, so no other pod can send an
// X-Forwarded-For that TRUSTED_PROXIES would believe.
func checkNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, podLabels labels.Set, port string) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("NetworkPolicy podSelector %v does not select the server pods %v (%v)", np.Spec.PodSelector, podLabels, err)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("NetworkPolicy policyTypes %v lack Ingress", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) == 0 {
		t.Error("NetworkPolicy admits nothing: the ingress controller cannot reach the pods")
	}
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Errorf("NetworkPolicy ingress[%d] admits every peer", i)
		}
		for _, f := range r.From {
			if f.IPBlock != nil || f.NamespaceSelector == nil || f.PodSelector == nil ||
				len(f.NamespaceSelector.MatchLabels)+len(f.NamespaceSelector.MatchExpressions) == 0 ||
				len(f.PodSelector.MatchLabels)+len(f.PodSelector.MatchExpressions) == 0 {
				t.Errorf("NetworkPolicy ingress[%d] peer %+v: want the ingress controller's pods, by namespace and pod selector", i, f)
			}
		}
		if len(r.Ports) != 1 || r.Ports[0].Port == nil || r.Ports[0].Port.String() != port {
			t.Errorf("NetworkPolicy ingress[%d] ports %+v: want the %s port only", i, r.Ports, port)
		}
	}
}
