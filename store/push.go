package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// PushRecord is one message of WeChat's message push as recorded in
// wechat_pushes: its identity, what it was and what was done.
type PushRecord struct {
	bun.BaseModel `bun:"table:wechat_pushes,alias:wp"`

	AppID      string    `bun:"appid,pk"`
	MessageKey string    `bun:"message_key,pk"`
	ReceivedAt time.Time `bun:"received_at,nullzero,notnull,default:current_timestamp"`
	MsgType    string    `bun:"msg_type"`
	Event      string    `bun:"event"`
	OpenID     *string   `bun:"openid"`
	UserID     *string   `bun:"user_id,type:uuid"`
	// PushTS and Nonce are the query's timestamp and nonce, which the
	// signature covers.
	PushTS  int64  `bun:"push_ts"`
	Nonce   string `bun:"nonce"`
	Outcome string `bun:"outcome"`
	// Detail holds non-secret facts (what was removed, a verdict).
	Detail map[string]any `bun:"detail,type:jsonb,nullzero,notnull,default:'{}'"`
}

// ErrPushReplay means a push's timestamp and nonce (and so its signature)
// were already used by another message: someone replays a signed query
// with a body of their own.
var ErrPushReplay = errors.New("store: the push's timestamp and nonce came with another message")

// errPushDone rolls back a transaction that found its message recorded.
var errPushDone = errors.New("store: push already recorded")

// RecordPush records rec and runs work in the same transaction, so that a
// message is handled exactly once: a second delivery (WeChat's retry, even
// one running at the same time, which waits here for the first to commit)
// finds the record, runs nothing and reports done = true. work may change
// rec (Outcome, UserID, Detail): the record is saved as work leaves it.
// An error of work rolls everything back, the record too, so that WeChat's
// retry tries again. ErrPushReplay when rec's timestamp and nonce came with
// another message.
func (s *Store) RecordPush(ctx context.Context, rec *PushRecord, work func(ctx context.Context, tx bun.Tx) error) (done bool, err error) {
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(rec).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("recording a push: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			seen, err := tx.NewSelect().Model((*PushRecord)(nil)).
				Where("appid = ? AND message_key = ?", rec.AppID, rec.MessageKey).Exists(ctx)
			if err != nil {
				return fmt.Errorf("finding a push: %w", err)
			}
			if seen {
				return errPushDone
			}
			return ErrPushReplay
		}
		if err := work(ctx, tx); err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model(rec).WherePK().Column("outcome", "user_id", "detail").Exec(ctx)
		if err != nil {
			return fmt.Errorf("recording a push's outcome: %w", err)
		}
		return nil
	})
	switch {
	case errors.Is(err, errPushDone):
		return true, nil
	case errors.Is(err, ErrPushReplay):
		return false, err
	case err != nil:
		return false, fmt.Errorf("store: %w", err)
	}
	return false, nil
}

// PushRecorded reports whether the message with key was recorded for
// appID: a retry of a message handled already.
func (s *Store) PushRecorded(ctx context.Context, appID, key string) (bool, error) {
	ok, err := s.db.NewSelect().Model((*PushRecord)(nil)).
		Where("appid = ? AND message_key = ?", appID, key).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("store: finding a push: %w", err)
	}
	return ok, nil
}

// PurgePushes deletes the records of pushes received before before, at
// most batch of them, and returns how many.
func (s *Store) PurgePushes(ctx context.Context, before time.Time, batch int) (int, error) {
	res, err := s.db.NewDelete().Model((*PushRecord)(nil)).
		Where("(appid, message_key) IN (SELECT appid, message_key FROM wechat_pushes WHERE received_at < ? LIMIT ? FOR UPDATE SKIP LOCKED)", before, batch).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: purging pushes: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// UserIDByOpenID returns the id of the user whose mini program identity is
// (appID, openID), through db (the pool or a transaction); ErrNotFound
// when there is none.
func (s *Store) UserIDByOpenID(ctx context.Context, db bun.IDB, appID, openID string) (string, error) {
	var id string
	err := db.NewSelect().Model((*models.Identity)(nil)).Column("user_id").
		Where("provider = ? AND appid = ? AND openid = ?", models.ProviderWechatMiniProgram, appID, openID).
		Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	} else if err != nil {
		return "", fmt.Errorf("store: finding a user by openid: %w", err)
	}
	return id, nil
}

// ClearableFields are the users columns ClearUserFields may clear: the
// profile WeChat supplied and the phone.
var ClearableFields = []string{"nickname", "avatar_url", "gender", "language", "city", "province", "country", "phone", "phone_country_code"}

// ClearUserFields sets the named columns (of ClearableFields) of the user
// to NULL through db, the transaction the change is part of, and returns
// those that held a value, in ClearableFields' order. Nothing is written
// when none did, so a repeated clear changes nothing (and notifies no
// session cache). A cleared nickname or avatar loses its moderation state
// (user_moderation); a cleared avatar's file is deleted through del unless
// another user has it (dropAvatarFile, as a risky verdict does), under the
// avatar's lock. ErrNotFound when there is no such user.
func (s *Store) ClearUserFields(ctx context.Context, db bun.IDB, userID string, fields []string, del DeleteFile) ([]string, error) {
	if slices.Contains(fields, "avatar_url") {
		// The avatar's lock comes before the user's row lock (lockAvatar).
		var seen *string
		if err := db.NewSelect().Table("users").Column("avatar_url").Where("id = ?", userID).Scan(ctx, &seen); errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		} else if err != nil {
			return nil, fmt.Errorf("store: finding user: %w", err)
		}
		if seen != nil {
			if err := lockAvatar(ctx, db, *seen); err != nil {
				return nil, err
			}
		}
	}
	u := &models.User{ID: userID}
	if err := db.NewSelect().Model(u).WherePK().For("UPDATE").Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("store: finding user: %w", err)
	}
	held := map[string]bool{
		"nickname": u.Nickname != nil, "avatar_url": u.AvatarURL != nil, "gender": u.Gender != nil,
		"language": u.Language != nil, "city": u.City != nil, "province": u.Province != nil,
		"country": u.Country != nil, "phone": u.Phone != nil, "phone_country_code": u.PhoneCountryCode != nil,
	}
	want := map[string]bool{}
	for _, f := range fields {
		if _, ok := held[f]; !ok {
			return nil, fmt.Errorf("store: %q is not a clearable field", f)
		}
		want[f] = true
	}
	var cleared []string
	q := db.NewUpdate().Model(u).WherePK().Set("updated_at = now()")
	for _, f := range ClearableFields {
		if want[f] && held[f] {
			cleared = append(cleared, f)
			q = q.Set("? = NULL", bun.Ident(f))
		}
	}
	if len(cleared) == 0 {
		return nil, nil
	}
	if _, err := q.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: clearing user fields: %w", err)
	}
	m := db.NewUpdate().Table("user_moderation").Where("user_id = ?", userID).Set("updated_at = now()")
	reset := false
	for _, f := range []string{"nickname", "avatar"} {
		col := f
		if f == "avatar" {
			col = "avatar_url"
		}
		if slices.Contains(cleared, col) {
			reset = true
			m = m.Set("? = NULL, ? = NULL, ? = NULL, ? = NULL", bun.Ident(col), bun.Ident(f+"_state"), bun.Ident(f+"_label"), bun.Ident(f+"_trace"))
		}
	}
	if reset {
		if _, err := m.Exec(ctx); err != nil {
			return nil, fmt.Errorf("store: resetting moderation: %w", err)
		}
	}
	if slices.Contains(cleared, "avatar_url") {
		// Locked above (the lock is re-entrant), unless an upload changed
		// the avatar between the two reads: then its lock is taken now,
		// after the row's, and PostgreSQL breaks a deadlock by failing one
		// (a push is retried by WeChat).
		if err := lockAvatar(ctx, db, *u.AvatarURL); err != nil {
			return nil, err
		}
		if err := dropAvatarFile(ctx, db, *u.AvatarURL, del); err != nil {
			return nil, err
		}
	}
	return cleared, nil
}
