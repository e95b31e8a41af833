package admin

import (
	"context"
	"regexp"
	"strings"

	"wxlogin/models"
	"wxlogin/store"
)

// Bounds of the audit log's filters: what no id, action or username
// exceeds, so that a longer one is a mistake, said so before any work.
const (
	maxAuditActionLen = 64
	maxAuditTargetLen = 100
)

// auditActionPattern is the shape of every action (models.AuditActions):
// area.verb in lowercase.
var auditActionPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z0-9_.]+$`)

// checkAuditFilter refuses a filter no entry could match for a reason the
// caller should hear about: a value longer than any real one, an action of
// another shape, an empty or inverted date range.
func checkAuditFilter(in AuditInput) error {
	if in.ActorID != "" && !validID(in.ActorID) {
		return models.Errorf(models.CodeBadUserInput, "actorId must be an id as the API returns it, a UUID like 0193a5e2-7c1d-7b3e-9f00-5c2a8d41e6b7")
	}
	if in.Action != "" && (len(in.Action) > maxAuditActionLen || !auditActionPattern.MatchString(in.Action)) {
		return models.Errorf(models.CodeBadUserInput, "action must be an action as auditActions lists them, like user.login")
	}
	if len(in.Target) > maxAuditTargetLen {
		return models.Errorf(models.CodeBadUserInput, "target must be at most %d bytes", maxAuditTargetLen)
	}
	if len(strings.TrimSpace(in.Admin)) > maxUsernameLen {
		return models.Errorf(models.CodeBadUserInput, "admin must be at most %d characters, as usernames are", maxUsernameLen)
	}
	if len(strings.TrimSpace(in.User)) > maxSearchLen {
		return models.Errorf(models.CodeBadUserInput, "user must be at most %d bytes", maxSearchLen)
	}
	if in.Since != nil && in.Until != nil && !in.Since.Before(*in.Until) {
		return models.Errorf(models.CodeBadUserInput, "since must be before until")
	}
	return nil
}

// auditAdmins returns the ids of the admins whose username starts with
// name (any case), nil for no name. Admin accounts are few; more than
// store.MaxAuditParties matching is BAD_USER_INPUT all the same.
func (s *Service) auditAdmins(ctx context.Context, name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	ids, err := s.store.AdminIDsNamed(ctx, name, store.MaxAuditParties+1)
	if err != nil {
		return nil, internal(err)
	}
	if len(ids) > store.MaxAuditParties {
		return nil, models.Errorf(models.CodeBadUserInput, "more than %d admins' usernames start with this; type more of it", store.MaxAuditParties)
	}
	return nonNil(ids), nil
}

// auditUsers returns the ids user names, nil for none: the id itself
// (whether or not such a user is left: an erased or merged user's entries
// stay), or the users the users list's search finds (nickname, phone as
// typed, openid, unionid; erased users have none of those). More than
// store.MaxAuditParties users is BAD_USER_INPUT, so that a page of the
// log costs a bounded number of index reads.
func (s *Service) auditUsers(ctx context.Context, user string) ([]string, error) {
	switch {
	case user == "":
		return nil, nil
	case validID(user):
		return []string{strings.ToLower(user)}, nil
	}
	page, err := s.store.ListUsers(ctx, store.UserQuery{First: store.MaxAuditParties, Search: user, Order: store.OrderCreatedAt})
	if store.IsStatementTimeout(err) {
		return nil, models.WrapError(err, models.CodeQueryTimeout, "finding the users took too long and was stopped; type more of the nickname, a whole phone number, or the user's id")
	} else if err != nil {
		return nil, internal(err)
	}
	if page.HasNextPage {
		return nil, models.Errorf(models.CodeBadUserInput, "more than %d users match this search; type more of the nickname, a whole phone number, or the user's id", store.MaxAuditParties)
	}
	ids := make([]string, len(page.Items))
	for i, u := range page.Items {
		ids[i] = u.ID
	}
	return ids, nil
}

// nonNil turns a nil list (nobody matched) into an empty one, which the
// store reads as "keeps none" where nil is "no filter".
func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// nameParties fills in each entry's Actor and TargetParty: the users and
// admins of the whole page are looked up in one statement.
func (s *Service) nameParties(ctx context.Context, entries []*models.AuditEntry) error {
	var ids []string
	seen := map[string]bool{}
	add := func(id *string) {
		if id != nil && validID(*id) && !seen[strings.ToLower(*id)] {
			seen[strings.ToLower(*id)] = true
			ids = append(ids, strings.ToLower(*id))
		}
	}
	for _, e := range entries {
		add(e.ActorID)
		add(e.Target)
	}
	names, err := s.store.AuditNames(ctx, ids)
	if err != nil {
		return err
	}
	for _, e := range entries {
		e.Actor = actorParty(e, names)
		if e.Target != nil {
			e.TargetParty = targetParty(e, names)
		}
	}
	return nil
}

// lookup returns what names found for id, if it is an id at all.
func lookup(names map[string]store.AuditName, id *string) (store.AuditName, bool) {
	if id == nil || !validID(*id) {
		return store.AuditName{}, false
	}
	n, ok := names[strings.ToLower(*id)]
	return n, ok
}

// named sets p's name and state from what the lookup found.
func named(p *models.AuditParty, n store.AuditName) {
	p.Kind = n.Kind
	switch {
	case n.Erased:
		p.State = models.AuditErased
	case n.Name == nil:
		p.State = models.AuditNoName
	default:
		p.Name, p.State = n.Name, models.AuditNamed
	}
}

// actorParty names e's actor: an admin by username, a user by nickname
// (or as erased or gone), the system part or WeChat app by the name
// recorded, an anonymous caller by none.
func actorParty(e *models.AuditEntry, names map[string]store.AuditName) *models.AuditParty {
	p := &models.AuditParty{Kind: e.ActorKind, ID: e.ActorID, State: models.AuditNoName}
	if n, ok := lookup(names, e.ActorID); ok {
		named(p, n)
		p.Kind = e.ActorKind // as recorded; the lookup agrees
		return p
	}
	switch {
	case e.ActorName != nil:
		// An admin's name was recorded as it was then; the system's and
		// WeChat's are the only names they have.
		p.Name, p.State = e.ActorName, models.AuditNamed
	case e.ActorID != nil:
		p.State = models.AuditUnknown
	}
	return p
}

// targetParty names e's target: the user or admin its id names now, else
// what the action's target is (a session has no name; a user merged into
// another, or anything else, is unknown).
func targetParty(e *models.AuditEntry, names map[string]store.AuditName) *models.AuditParty {
	p := &models.AuditParty{ID: e.Target, State: models.AuditUnknown}
	p.IsActor = e.ActorID != nil && strings.EqualFold(*e.ActorID, *e.Target)
	if n, ok := lookup(names, e.Target); ok {
		named(p, n)
		return p
	}
	p.Kind = models.AuditTargetOf(e.Action)
	if p.Kind == models.AuditTargetSession {
		p.State = models.AuditNoName
	}
	return p
}

// AuditActionNames returns every action the server writes to the audit
// log, in models.AuditActions' order (the auditActions query).
func AuditActionNames() []string {
	out := make([]string, len(models.AuditActions))
	for i, a := range models.AuditActions {
		out[i] = a.Name
	}
	return out
}
