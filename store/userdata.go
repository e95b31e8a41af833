package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// UserDataCap is the most sessions, consents and audit entries UserData
// holds of each: the newest, with the total beside them, so that an
// export stays bounded however long the user has been around.
const UserDataCap = 1000

// otherPersonKeys are audit detail keys that name another person: they are
// left out of an export (user.unbind_phone's keptBy is the user who kept
// the number).
var otherPersonKeys = []string{"keptBy"}

// exportWait is how long a data export waits for its turn.
const exportWait = 3 * time.Second

// UserData reads everything stored about the user with id, in one
// read-only snapshot, capped at limit items per list (UserDataCap when
// not positive). ErrNotFound when there is no such user.
//
// Exports take turns, one at a time per Store: one costs some 25 ms of
// PostgreSQL and of this process for a long-lived user, and a few callers
// repeating it at once made other users' me requests 70 times slower. A
// data export is rare (a person asks for a copy now and then), so waiting
// costs nobody much; ErrBusy after exportWait.
func (s *Store) UserData(ctx context.Context, id string, limit int) (*models.UserData, error) {
	if limit <= 0 {
		limit = UserDataCap
	}
	wait := time.NewTimer(s.exportWait)
	defer wait.Stop()
	select {
	case s.exportSlot <- struct{}{}:
		defer func() { <-s.exportSlot }()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait.C:
		return nil, ErrBusy
	}
	d := &models.UserData{Version: models.UserDataVersion, Identities: []models.UserDataIdentity{}}
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	err := s.db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		u := &models.User{ID: id}
		if err := tx.NewSelect().Model(u).WherePK().Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("reading user: %w", err)
		}
		var now time.Time
		if err := tx.NewSelect().ColumnExpr("now()").Scan(ctx, &now); err != nil {
			return fmt.Errorf("reading the time: %w", err)
		}
		d.ExportedAt = now
		d.User = models.UserDataProfile{ID: u.ID, Nickname: u.Nickname, AvatarURL: u.AvatarURL, Gender: u.Gender,
			Language: u.Language, City: u.City, Province: u.Province, Country: u.Country, Phone: u.Phone,
			PhoneCountryCode: u.PhoneCountryCode, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
			LastLoginAt: u.LastLoginAt, DisabledAt: u.DisabledAt, DisabledReason: u.DisabledReason,
			DeletionRequestedAt: u.DeletionRequestedAt, ErasesAt: u.ErasesAt}
		m := &models.Moderation{UserID: id}
		if err := tx.NewSelect().Model(m).WherePK().Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			m = nil // unchecked
		} else if err != nil {
			return fmt.Errorf("reading moderation: %w", err)
		}
		mod := m.Of(u)
		d.Moderation = models.UserDataModeration{Nickname: mod.Nickname, NicknameLabel: mod.NicknameLabel,
			Avatar: mod.Avatar, AvatarLabel: mod.AvatarLabel}

		var idents []*models.Identity
		if err := tx.NewSelect().Model(&idents).Where("i.user_id = ?", id).OrderExpr("i.created_at, i.id").Scan(ctx); err != nil {
			return fmt.Errorf("reading identities: %w", err)
		}
		for _, i := range idents {
			d.Identities = append(d.Identities, models.UserDataIdentity{Provider: i.Provider, AppID: i.AppID, OpenID: i.OpenID,
				UnionID: i.UnionID, CreatedAt: i.CreatedAt, LastLoginAt: i.LastLoginAt})
		}

		// Sessions: never token_hash or session_key_sealed.
		d.Sessions.Items = []models.UserDataSession{}
		err := tx.NewRaw(`SELECT s.id, i.appid AS app_id, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at, s.ip, s.user_agent
			FROM sessions s JOIN identities i ON i.id = s.identity_id
			WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC LIMIT ?`, id, limit).Scan(ctx, &d.Sessions.Items)
		if err != nil {
			return fmt.Errorf("reading sessions: %w", err)
		}
		if err := tx.NewRaw(`SELECT count(*) FROM sessions WHERE user_id = ?`, id).Scan(ctx, &d.Sessions.Total); err != nil {
			return fmt.Errorf("counting sessions: %w", err)
		}

		d.Consents.Items = []models.UserDataConsent{}
		err = tx.NewRaw(`SELECT version, accepted_at, ip FROM consents WHERE user_id = ?
			ORDER BY accepted_at DESC, id DESC LIMIT ?`, id, limit).Scan(ctx, &d.Consents.Items)
		if err != nil {
			return fmt.Errorf("reading consents: %w", err)
		}
		if err := tx.NewRaw(`SELECT count(*) FROM consents WHERE user_id = ?`, id).Scan(ctx, &d.Consents.Total); err != nil {
			return fmt.Errorf("counting consents: %w", err)
		}

		// The user's own actions (actor) and what was done to them
		// (target), each branch on its index and capped before the union.
		var rows []*models.AuditEntry
		err = tx.NewRaw(`SELECT * FROM (
				(SELECT * FROM audit_log WHERE actor_id = ? AND actor_kind = 'user' ORDER BY at DESC, id DESC LIMIT ?)
				UNION
				(SELECT * FROM audit_log WHERE target = ? ORDER BY at DESC, id DESC LIMIT ?)
			) al ORDER BY at DESC, id DESC LIMIT ?`, id, limit, id, limit, limit).Scan(ctx, &rows)
		if err != nil {
			return fmt.Errorf("reading audit entries: %w", err)
		}
		err = tx.NewRaw(`SELECT count(*) FROM (SELECT id FROM audit_log WHERE actor_id = ? AND actor_kind = 'user'
			UNION SELECT id FROM audit_log WHERE target = ?) al`, id, id).Scan(ctx, &d.Audit.Total)
		if err != nil {
			return fmt.Errorf("counting audit entries: %w", err)
		}
		d.Audit.Items = make([]models.UserDataAuditRow, 0, len(rows))
		for _, e := range rows {
			self := e.ActorKind == "user" && e.ActorID != nil && *e.ActorID == id
			r := models.UserDataAuditRow{ID: e.ID, At: e.At, Action: e.Action, ActorKind: e.ActorKind, Self: self,
				Target: e.Target, IP: e.IP, Detail: e.Detail}
			if e.ActorKind != "user" {
				r.ActorName = e.ActorName // staff (or the system), by name
			}
			for _, k := range otherPersonKeys {
				delete(r.Detail, k)
			}
			if r.Detail == nil {
				r.Detail = map[string]any{}
			}
			d.Audit.Items = append(d.Audit.Items, r)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("store: exporting user data: %w", err)
	}
	d.Sessions.Truncated = d.Sessions.Total > len(d.Sessions.Items)
	d.Consents.Truncated = d.Consents.Total > len(d.Consents.Items)
	d.Audit.Truncated = d.Audit.Total > len(d.Audit.Items)
	return d, nil
}
