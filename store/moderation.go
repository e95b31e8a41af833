package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// Check is a content security verdict to record beside a value: its state
// and WeChat's label and trace_id.
type Check struct {
	State models.ModerationState
	Label *int
	Trace string
}

// DeleteFile deletes the file of an uploaded avatar, given the avatar_url
// stored for it; it is called while no user holds that avatar_url, under
// the avatar's lock (see lockAvatar), so no upload can take it meanwhile.
type DeleteFile func(ctx context.Context, avatarURL string) error

// lockAvatar takes the transaction-scoped lock of one avatar_url. Whoever
// points a user at an uploaded file, or deletes one, holds it: a delete
// then never removes a file an upload has just pointed a user at, and an
// upload after a delete writes the file again. Take it before any user
// row lock, everywhere, so two transactions never wait for each other.
func lockAvatar(ctx context.Context, tx bun.IDB, avatarURL string) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 20))", "avatar:"+avatarURL); err != nil {
		return fmt.Errorf("locking an avatar: %w", err)
	}
	return nil
}

// dropAvatarFile deletes avatarURL's file unless some user still has it
// (the same content uploaded by another user). The caller holds the
// avatar's lock and has already unset it from the users it leaves.
func dropAvatarFile(ctx context.Context, tx bun.IDB, avatarURL string, del DeleteFile) error {
	if del == nil {
		return nil
	}
	var held bool
	if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM users WHERE avatar_url = ?)", avatarURL).Scan(ctx, &held); err != nil {
		return fmt.Errorf("looking for other holders of an avatar: %w", err)
	}
	if held {
		return nil
	}
	return del(ctx, avatarURL)
}

// SetNickname stores nickname (and the other changes of c) on the user
// with id and records check beside it, nil meaning unchecked, in one
// transaction; ErrNotFound when there is no such user.
func (s *Store) SetNickname(ctx context.Context, id string, c ProfileChange, check *Check) (*models.User, error) {
	var u *models.User
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if u, err = updateProfile(ctx, tx, id, c); err != nil {
			return err
		}
		m := &models.Moderation{UserID: id, Nickname: u.Nickname}
		if check != nil {
			m.NicknameState, m.NicknameLabel, m.NicknameTrace = &check.State, check.Label, nullable(check.Trace)
		}
		_, err = tx.NewInsert().Model(m).
			Column("user_id", "nickname", "nickname_state", "nickname_label", "nickname_trace").
			On("CONFLICT (user_id) DO UPDATE").
			Set("nickname = EXCLUDED.nickname, nickname_state = EXCLUDED.nickname_state").
			Set("nickname_label = EXCLUDED.nickname_label, nickname_trace = EXCLUDED.nickname_trace, updated_at = now()").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("recording the nickname's check: %w", err)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("store: setting a nickname: %w", err)
	}
	return u, nil
}

// MediaCheck is a mediaCheckAsync call to record with an avatar.
type MediaCheck struct {
	AppID, TraceID string
}

// SetAvatar points the user with id at the uploaded avatar avatarURL, in
// one transaction under the avatar's lock: put writes the file (again, in
// case a risky verdict or a rejection deleted it since it was first
// written), and the user's avatar state becomes PENDING with check's trace,
// or unchecked when check is nil. A verdict that came for check's trace
// before this call is applied at once (del deleting the file if it is
// risky). ErrNotFound when there is no such user.
func (s *Store) SetAvatar(ctx context.Context, id, avatarURL string, put func(context.Context) error, check *MediaCheck, del DeleteFile) (*models.User, error) {
	var u *models.User
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockAvatar(ctx, tx, avatarURL); err != nil {
			return err
		}
		if err := put(ctx); err != nil {
			return err
		}
		var err error
		if u, err = updateProfile(ctx, tx, id, ProfileChange{AvatarURL: &avatarURL}); err != nil {
			return err
		}
		m := &models.Moderation{UserID: id, AvatarURL: &avatarURL}
		if check != nil {
			pending := models.ModerationPending
			m.AvatarState, m.AvatarTrace = &pending, &check.TraceID
		}
		_, err = tx.NewInsert().Model(m).
			Column("user_id", "avatar_url", "avatar_state", "avatar_label", "avatar_trace").
			On("CONFLICT (user_id) DO UPDATE").
			Set("avatar_url = EXCLUDED.avatar_url, avatar_state = EXCLUDED.avatar_state").
			Set("avatar_label = NULL, avatar_trace = EXCLUDED.avatar_trace, updated_at = now()").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("recording the avatar's check: %w", err)
		}
		if check == nil {
			return nil
		}
		var early struct {
			Suggest *string `bun:"suggest"`
			Label   *int    `bun:"label"`
		}
		err = tx.NewRaw(`INSERT INTO media_checks (trace_id, app_id, user_id, avatar_url) VALUES (?, ?, ?, ?)
			ON CONFLICT (trace_id) DO UPDATE SET user_id = EXCLUDED.user_id, avatar_url = EXCLUDED.avatar_url
			WHERE media_checks.user_id IS NULL AND media_checks.app_id = EXCLUDED.app_id
			RETURNING suggest, label`, check.TraceID, check.AppID, id, avatarURL).Scan(ctx, &early)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("trace_id %s already recorded for another upload", check.TraceID)
		} else if err != nil {
			return fmt.Errorf("recording a media check: %w", err)
		}
		if early.Suggest == nil {
			return nil
		}
		if _, err := applyAvatarVerdict(ctx, tx, id, avatarURL, check.TraceID, *early.Suggest, early.Label, del); err != nil {
			return err
		}
		// Read the user again: a risky verdict removed the avatar.
		u = &models.User{ID: id}
		return tx.NewSelect().Model(u).WherePK().Scan(ctx)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("store: setting an avatar: %w", err)
	}
	return u, nil
}

// MediaVerdictOutcome says what a media verdict did.
type MediaVerdictOutcome struct {
	// Known is false for a trace_id no upload has recorded (yet): the
	// verdict is kept, and applied when the upload records it.
	Known bool
	// Duplicate is true when the trace_id already had its verdict (WeChat
	// retrying a push), or belongs to another app; nothing was done.
	Duplicate bool
	// UserID is the uploader's, when Known.
	UserID string
	// Current is true when the verdict was about the user's avatar of now
	// (not one since replaced).
	Current bool
	// Removed is true when a risky verdict removed the user's avatar.
	Removed bool
}

// MediaVerdict records WeChat's verdict (suggest: pass, review or risky)
// on the image check traceID of appID, once per trace_id, and applies it
// to the uploader when their avatar is still the checked one: pass
// APPROVED, review REVIEW, risky removes the avatar (avatar_url NULL,
// audit written in the same transaction) and deletes the file through del
// unless another user has it. A risky verdict on an avatar since replaced
// still deletes its file (when unheld) and is audited.
func (s *Store) MediaVerdict(ctx context.Context, appID, traceID, suggest string, label *int, audit *models.AuditEntry, del DeleteFile) (MediaVerdictOutcome, error) {
	return s.MediaVerdictIn(ctx, s.db, appID, traceID, suggest, label, audit, del)
}

// MediaVerdictIn is MediaVerdict through db: given the transaction that
// records a wxa_media_check push, the verdict commits (or rolls back)
// with that record, so that a push is applied exactly once (a savepoint
// of it, here).
func (s *Store) MediaVerdictIn(ctx context.Context, db bun.IDB, appID, traceID, suggest string, label *int, audit *models.AuditEntry, del DeleteFile) (MediaVerdictOutcome, error) {
	var out MediaVerdictOutcome
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		out = MediaVerdictOutcome{}
		var rec struct {
			UserID    *string `bun:"user_id"`
			AvatarURL *string `bun:"avatar_url"`
		}
		err := tx.NewRaw(`INSERT INTO media_checks (trace_id, app_id, suggest, label, decided_at) VALUES (?, ?, ?, ?, now())
			ON CONFLICT (trace_id) DO UPDATE SET suggest = EXCLUDED.suggest, label = EXCLUDED.label, decided_at = now()
			WHERE media_checks.decided_at IS NULL AND media_checks.app_id = EXCLUDED.app_id
			RETURNING user_id, avatar_url`, traceID, appID, suggest, label).Scan(ctx, &rec)
		if errors.Is(err, sql.ErrNoRows) {
			out.Duplicate = true
			return nil
		} else if err != nil {
			return fmt.Errorf("recording a media verdict: %w", err)
		}
		if rec.UserID == nil || rec.AvatarURL == nil {
			return nil
		}
		out.Known, out.UserID = true, *rec.UserID
		if err := lockAvatar(ctx, tx, *rec.AvatarURL); err != nil {
			return err
		}
		if out.Current, err = applyAvatarVerdict(ctx, tx, *rec.UserID, *rec.AvatarURL, traceID, suggest, label, del); err != nil {
			return err
		}
		out.Removed = out.Current && suggest == "risky"
		if suggest == "risky" && audit != nil {
			audit.Target = rec.UserID
			if audit.Detail == nil {
				audit.Detail = map[string]any{}
			}
			audit.Detail["current"] = out.Current
			return s.WriteAudit(ctx, tx, audit)
		}
		return nil
	})
	if err != nil {
		return MediaVerdictOutcome{}, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// applyAvatarVerdict applies a verdict on avatarURL to the user with id,
// if it is still their avatar (reported as current); the caller holds the
// avatar's lock. A risky verdict deletes the file unless a user holds it,
// current or not.
func applyAvatarVerdict(ctx context.Context, tx bun.Tx, id, avatarURL, traceID, suggest string, label *int, del DeleteFile) (current bool, err error) {
	var have *string
	err = tx.NewSelect().Table("users").Column("avatar_url").Where("id = ?", id).For("UPDATE").Scan(ctx, &have)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("reading the uploader: %w", err)
	}
	current = have != nil && *have == avatarURL
	if current {
		switch suggest {
		case "risky":
			if _, err := tx.NewUpdate().Table("users").Set("avatar_url = NULL, updated_at = now()").Where("id = ?", id).Exec(ctx); err != nil {
				return false, fmt.Errorf("removing a risky avatar: %w", err)
			}
			_, err = tx.NewUpdate().Table("user_moderation").
				Set("avatar_url = NULL, avatar_state = NULL, avatar_label = ?, avatar_trace = ?, updated_at = now()", label, traceID).
				Where("user_id = ?", id).Exec(ctx)
		default:
			state := models.ModerationApproved
			if suggest == "review" {
				state = models.ModerationReview
			}
			_, err = tx.NewUpdate().Table("user_moderation").
				Set("avatar_state = ?, avatar_label = ?, avatar_trace = ?, updated_at = now()", state, label, traceID).
				Where("user_id = ? AND avatar_url = ?", id, avatarURL).Exec(ctx)
		}
		if err != nil {
			return false, fmt.Errorf("recording an avatar verdict: %w", err)
		}
	}
	if suggest == "risky" {
		if err := dropAvatarFile(ctx, tx, avatarURL, del); err != nil {
			return false, err
		}
	}
	return current, nil
}

// Moderations returns the user_moderation rows of the users with ids that
// have one.
func (s *Store) Moderations(ctx context.Context, ids []string) (map[string]*models.Moderation, error) {
	var rows []*models.Moderation
	if err := s.db.NewSelect().Model(&rows).Where("user_id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("store: reading moderation: %w", err)
	}
	out := make(map[string]*models.Moderation, len(rows))
	for _, m := range rows {
		out[m.UserID] = m
	}
	return out, nil
}

// ErrNothingToModerate is ModerateUser's answer for a user whose nickname
// and avatar await no decision.
var ErrNothingToModerate = errors.New("store: nothing awaits moderation")

// Moderated says what ModerateUser decided on.
type Moderated struct {
	Nickname, Avatar bool
}

// ModerateUser decides on the user's content awaiting a decision: a
// nickname in REVIEW, an avatar in REVIEW or PENDING. approve makes them
// APPROVED; otherwise they are removed (nickname NULL; avatar_url NULL and
// its file deleted through del unless another user has it). audit is
// written in the same transaction, with what was decided. Errors:
// ErrNotFound, ErrNothingToModerate.
func (s *Store) ModerateUser(ctx context.Context, id string, approve bool, audit *models.AuditEntry, del DeleteFile) (*models.User, Moderated, error) {
	var (
		u    *models.User
		done Moderated
	)
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		done = Moderated{}
		// The avatar's lock comes before the user's row lock (lockAvatar);
		// should the avatar change between the two reads, it is left alone.
		var seen *string
		if err := tx.NewSelect().Table("users").Column("avatar_url").Where("id = ?", id).Scan(ctx, &seen); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("reading the user: %w", err)
		}
		if seen != nil {
			if err := lockAvatar(ctx, tx, *seen); err != nil {
				return err
			}
		}
		u = &models.User{ID: id}
		if err := tx.NewSelect().Model(u).WherePK().Where("u.deleted_at IS NULL").For("UPDATE").Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("reading the user: %w", err)
		}
		m := &models.Moderation{UserID: id}
		if err := tx.NewSelect().Model(m).WherePK().For("UPDATE").Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return ErrNothingToModerate
		} else if err != nil {
			return fmt.Errorf("reading moderation: %w", err)
		}
		st := m.Of(u)
		done.Nickname = st.Nickname != nil && *st.Nickname == models.ModerationReview
		done.Avatar = st.Avatar != nil && (*st.Avatar == models.ModerationReview || *st.Avatar == models.ModerationPending) &&
			seen != nil && u.AvatarURL != nil && *seen == *u.AvatarURL
		if !done.Nickname && !done.Avatar {
			return ErrNothingToModerate
		}
		approved := models.ModerationApproved
		uq := tx.NewUpdate().Table("users").Set("updated_at = now()").Where("id = ?", id)
		mq := tx.NewUpdate().Table("user_moderation").Set("updated_at = now()").Where("user_id = ?", id)
		if done.Nickname {
			if approve {
				mq.Set("nickname_state = ?", approved)
			} else {
				uq.Set("nickname = NULL")
				mq.Set("nickname = NULL, nickname_state = NULL")
			}
		}
		if done.Avatar {
			if approve {
				mq.Set("avatar_state = ?", approved)
			} else {
				uq.Set("avatar_url = NULL")
				mq.Set("avatar_url = NULL, avatar_state = NULL")
			}
		}
		if _, err := uq.Exec(ctx); err != nil {
			return fmt.Errorf("updating the user: %w", err)
		}
		if _, err := mq.Exec(ctx); err != nil {
			return fmt.Errorf("updating moderation: %w", err)
		}
		if done.Avatar && !approve {
			if err := dropAvatarFile(ctx, tx, *seen, del); err != nil {
				return err
			}
		}
		if audit != nil {
			if audit.Detail == nil {
				audit.Detail = map[string]any{}
			}
			audit.Detail["approve"] = approve
			audit.Detail["nickname"] = done.Nickname
			audit.Detail["avatar"] = done.Avatar
			if err := s.WriteAudit(ctx, tx, audit); err != nil {
				return err
			}
		}
		u = &models.User{ID: id}
		return tx.NewSelect().Model(u).WherePK().Scan(ctx)
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNothingToModerate) {
		return nil, Moderated{}, err
	} else if err != nil {
		return nil, Moderated{}, fmt.Errorf("store: moderating a user: %w", err)
	}
	return u, done, nil
}
