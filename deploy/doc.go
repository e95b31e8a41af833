// Package deploy holds no code: its tests check the deployment files — the
// Dockerfile and .dockerignore at the repository's root, compose.yaml and
// haproxy.cfg here, and the Kubernetes manifests in k8s/ — against each other
// and against the server's own settings and endpoints. Their dependencies
// (the Compose loader, the Kubernetes API types) are test-only and never
// reach the wxlogin binary. See the README, Deployment.
package deploy
