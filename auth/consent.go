package auth

import (
	"context"
	"errors"

	"wxlogin/models"
	"wxlogin/store"
)

// MaxPolicyVersion bounds the length of a policy version acceptPolicy takes.
const MaxPolicyVersion = 64

// PolicyVersion is the policy version users must accept (POLICY_VERSION),
// "" when this server tracks no consent.
func (s *Service) PolicyVersion() string { return s.policy }

// AcceptPolicy records that the caller accepted the policy of version, the
// current one, as user.accept_policy in the audit log. Accepting the version
// the caller accepted last records nothing again. Errors: BAD_USER_INPUT
// for another version than the current one, or when no version is tracked;
// INTERNAL.
func (s *Service) AcceptPolicy(ctx context.Context, c *Caller, version, ip string) error {
	switch {
	case s.policy == "":
		return models.Errorf(models.CodeBadUserInput, "this server tracks no policy version")
	case version != s.policy:
		if len(version) > MaxPolicyVersion {
			version = version[:MaxPolicyVersion] + "…"
		}
		return models.Errorf(models.CodeBadUserInput, "the current policy version is %q, not %q: show the user the current policy and accept that", s.policy, version)
	}
	audit := &models.AuditEntry{ActorKind: "user", ActorID: &c.User.ID, Action: "user.accept_policy", Target: &c.User.ID,
		IP: nonEmpty(ip), Detail: map[string]any{"version": version}}
	_, err := s.store.AcceptPolicy(ctx, c.User.ID, &models.Consent{Version: version, IP: nonEmpty(ip)}, audit)
	if errors.Is(err, store.ErrNotFound) {
		return models.Errorf(models.CodeUnauthenticated, "sign in again")
	} else if err != nil {
		return models.WrapError(err, models.CodeInternal, "internal error")
	}
	return nil
}

// PolicyVersionsOf returns the newest accepted policy version of each of
// userIDs that accepted one, for a page of users at once.
func (s *Service) PolicyVersionsOf(ctx context.Context, userIDs []string) (map[string]string, error) {
	m, err := s.store.PolicyVersionsOfUsers(ctx, userIDs)
	if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	return m, nil
}
