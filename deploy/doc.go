// Package deploy holds no code: its tests check the deployment files — the
// Dockerfile and .dockerignore at the repository's root, compose.yaml and
// haproxy.cfg here, and the Kubernetes manifests in k8s/ — against each other
// and against the server's own settings and endpoints. It is a Go module of
// its own (wxlogin/deploy, with wxlogin replaced by ../), so its dependencies
// (the Compose loader, the Kubernetes API types) stay out of wxlogin's go.mod:
// neither the image's build nor a user of wxlogin's packages downloads them.
// Run its tests in this folder: go test ./... See docs/operations.md, Deployment.
package deploy
