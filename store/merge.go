package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// mergeUsers makes the users in ids (two or more) one: the oldest (by
// created_at, then id) survives and the others are merged into it and
// deleted. It runs inside a login's transaction, under the advisory lock on
// the unionid that links them. It returns the survivor's id and the ids
// merged away (none if a concurrent change left only one of ids).
//
// The rule, also in docs/configuration.md:
//   - identities and sessions (revoked ones too) move to the survivor, so
//     every token of a merged-away user keeps working, now as the survivor;
//   - each profile field, and the phone (number and country code together),
//     keeps the survivor's value and takes another's only where the
//     survivor's is empty (a gender of UNKNOWN counts as empty);
//   - created_at is the survivor's (the earliest), last_login_at the latest;
//   - a pending deletion (deleteAccount) of any of them becomes the merged
//     user's (the earliest request), which the login merging them then
//     cancels as any login inside the cooling-off period does; an erased
//     user (deleted_at) has no identities left, so it is never merged;
//   - if any of them is disabled the merged user is disabled (the earliest
//     disable's time and reason), and its live sessions are revoked, as
//     disableUser does: disabling a person is not undone by a second app;
//   - pending image checks (media_checks) move to the survivor, and so does
//     a merged-away user's moderation row when the survivor has none;
//   - the audit log keeps its history (rows name the old ids) and gets one
//     user.merge row per merged-away user, detail {from, into, appid, …}.
//
// Locks are taken in one order, which the other writers of these rows
// follow too: the merged-away users' identity rows (a login holds its
// identity row while it updates its user), then the user rows by id. So a
// login without unionid racing the merge waits or is waited for, never
// deadlocks, and finds the identity's new owner when it gets the row.
//
// Every table with a user_id must be handled here:
// TestStore_MergeCoversEveryUserColumn fails when one is added.
func mergeUsers(ctx context.Context, tx bun.Tx, ids []string, appID string, ip *string) (string, []string, error) {
	var order []string
	err := tx.NewSelect().Model((*models.User)(nil)).Column("u.id").
		Where("u.id IN (?)", bun.List(ids)).OrderExpr("u.created_at, u.id").Scan(ctx, &order)
	if err != nil {
		return "", nil, fmt.Errorf("merging users: ordering: %w", err)
	}
	if len(order) < 2 {
		return firstOr(order, ids[0]), nil, nil
	}
	var identities []string
	err = tx.NewSelect().Model((*models.Identity)(nil)).Column("i.id").
		Where("i.user_id IN (?)", bun.List(order[1:])).OrderExpr("i.id").For("UPDATE").Scan(ctx, &identities)
	if err != nil {
		return "", nil, fmt.Errorf("merging users: locking identities: %w", err)
	}
	var users []*models.User
	// u.*: disabled_by too (a scan-only field), which combineUser moves.
	err = tx.NewSelect().Model(&users).ColumnExpr("u.*").Where("u.id IN (?)", bun.List(order)).OrderExpr("u.id").For("UPDATE").Scan(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("merging users: locking users: %w", err)
	}
	slices.SortFunc(users, func(a, b *models.User) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	switch len(users) {
	case 0:
		return "", nil, fmt.Errorf("merging users: none of %d is left", len(order))
	case 1:
		return users[0].ID, nil, nil
	}
	for _, u := range users {
		if u.DeletedAt != nil {
			// Erased since the login's lookup: its identities are gone,
			// and the login runs again without it.
			return "", nil, errUserErased
		}
	}
	into, others := users[0], users[1:]
	for _, u := range others {
		combineUser(into, u)
	}
	var revoked int64
	if into.DisabledAt != nil {
		// Sessions of a user disabled already were revoked then; the
		// others' live ones end now.
		res, err := tx.NewUpdate().Model((*models.Session)(nil)).Set("revoked_at = now()").
			Where("user_id IN (?) AND revoked_at IS NULL", bun.List(order)).Exec(ctx)
		if err != nil {
			return "", nil, fmt.Errorf("merging users: revoking sessions: %w", err)
		}
		revoked, _ = res.RowsAffected()
	}
	var merged []string
	for _, u := range others {
		moved, err := tx.NewUpdate().Model((*models.Identity)(nil)).
			Set("user_id = ?", into.ID).Set("updated_at = now()").Where("user_id = ?", u.ID).Exec(ctx)
		if err != nil {
			return "", nil, fmt.Errorf("merging users: moving identities: %w", err)
		}
		sessions, err := tx.NewUpdate().Model((*models.Session)(nil)).
			Set("user_id = ?", into.ID).Where("user_id = ?", u.ID).Exec(ctx)
		if err != nil {
			return "", nil, fmt.Errorf("merging users: moving sessions: %w", err)
		}
		// The person's consents are kept (deleting the user would cascade
		// them away): the one change of a consent row, its owner.
		if _, err := tx.NewUpdate().Model((*models.Consent)(nil)).
			Set("user_id = ?", into.ID).Where("user_id = ?", u.ID).Exec(ctx); err != nil {
			return "", nil, fmt.Errorf("merging users: moving consents: %w", err)
		}
		// A pending image check follows its avatar: the verdict then finds
		// the survivor, and applies if the survivor took that avatar.
		if _, err := tx.NewUpdate().Table("media_checks").
			Set("user_id = ?", into.ID).Where("user_id = ?", u.ID).Exec(ctx); err != nil {
			return "", nil, fmt.Errorf("merging users: moving media checks: %w", err)
		}
		// Moderation states apply only to the value they were given for
		// (models.Moderation.Of): the survivor keeps its own row, or takes
		// the first merged-away user's, whose states then hold for the
		// nickname or avatar it took from them.
		if _, err := tx.NewUpdate().Table("user_moderation").Set("user_id = ?", into.ID).
			Where("user_id = ? AND NOT EXISTS (SELECT 1 FROM user_moderation WHERE user_id = ?)", u.ID, into.ID).Exec(ctx); err != nil {
			return "", nil, fmt.Errorf("merging users: moving moderation: %w", err)
		}
		if _, err := tx.NewDelete().Model((*models.User)(nil)).Where("id = ?", u.ID).Exec(ctx); err != nil {
			return "", nil, fmt.Errorf("merging users: deleting the merged user: %w", err)
		}
		nIdent, _ := moved.RowsAffected()
		nSess, _ := sessions.RowsAffected()
		detail := map[string]any{"from": u.ID, "into": into.ID, "appid": appID,
			"fromCreatedAt": u.CreatedAt, "identitiesMoved": nIdent, "sessionsMoved": nSess}
		if u.DisabledAt != nil {
			detail["fromDisabled"] = true
		}
		if revoked > 0 {
			detail["sessionsRevoked"] = revoked
			revoked = 0 // counted once
		}
		if err := writeAudit(ctx, tx, &models.AuditEntry{
			ActorKind: "user", ActorID: &into.ID, Action: "user.merge", Target: &into.ID, IP: ip, Detail: detail,
		}); err != nil {
			return "", nil, err
		}
		merged = append(merged, u.ID)
	}
	// Last, once the others are gone: a phone number the survivor takes
	// from one of them is unique (users_phone_key) and may not be on two
	// rows even for a moment.
	_, err = tx.NewUpdate().Model(into).WherePK().
		Column("nickname", "avatar_url", "gender", "language", "city", "province", "country",
			"phone", "phone_country_code", "disabled_at", "disabled_reason", "last_login_at",
			"deletion_requested_at", "erase_at").
		Set("disabled_by = ?", into.DisabledByID).
		Set("updated_at = now()").Returning("*").Exec(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("merging users: updating survivor: %w", err)
	}
	return into.ID, merged, nil
}

// combineUser fills into's empty fields from u, following mergeUsers' rule.
func combineUser(into, u *models.User) {
	for _, f := range []struct{ dst, src **string }{
		{&into.Nickname, &u.Nickname}, {&into.AvatarURL, &u.AvatarURL}, {&into.Language, &u.Language},
		{&into.City, &u.City}, {&into.Province, &u.Province}, {&into.Country, &u.Country},
	} {
		if isEmpty(*f.dst) && !isEmpty(*f.src) {
			*f.dst = *f.src
		}
	}
	if u.Gender != nil && *u.Gender != models.GenderUnknown && (into.Gender == nil || *into.Gender == models.GenderUnknown) ||
		into.Gender == nil && u.Gender != nil {
		into.Gender = u.Gender
	}
	if isEmpty(into.Phone) && !isEmpty(u.Phone) {
		into.Phone, into.PhoneCountryCode = u.Phone, u.PhoneCountryCode
	}
	if u.LastLoginAt != nil && (into.LastLoginAt == nil || u.LastLoginAt.After(*into.LastLoginAt)) {
		into.LastLoginAt = u.LastLoginAt
	}
	if u.DeletionRequestedAt != nil && (into.DeletionRequestedAt == nil || u.DeletionRequestedAt.Before(*into.DeletionRequestedAt)) {
		into.DeletionRequestedAt, into.ErasesAt = u.DeletionRequestedAt, u.ErasesAt
	}
	if u.DisabledAt != nil && (into.DisabledAt == nil || u.DisabledAt.Before(*into.DisabledAt)) {
		into.DisabledAt, into.DisabledReason, into.DisabledByID = u.DisabledAt, u.DisabledReason, u.DisabledByID
	}
}

func isEmpty(s *string) bool { return s == nil || *s == "" }

func firstOr(ids []string, def string) string {
	if len(ids) > 0 {
		return ids[0]
	}
	return def
}
