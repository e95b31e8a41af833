package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// Admins' two-step sign-in (TOTP). The store keeps the sealed secret, the
// last time step accepted and the hashes of the recovery codes; it knows
// no crypto.

// AdminTOTPSecrets are the admins' TOTP secrets, sealed under SECRET_KEY.
var AdminTOTPSecrets = SealedColumn{Name: "admin totp secrets", table: "admins", id: "id", idType: "uuid", column: "totp_secret_sealed"}

// BeginAdminTOTP stores sealed as the admin's pending TOTP secret,
// replacing an enrolment begun before, and writes audit in the same
// transaction. ErrConflict, with nothing written, when TOTP is on already
// (it is turned off first); ErrNotFound when there is no enabled admin
// with id.
func (s *Store) BeginAdminTOTP(ctx context.Context, adminID string, sealed []byte, audit *models.AuditEntry) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var on bool
		// The row is locked first, so that the check and the write see one
		// state: an EnableAdminTOTP racing this waits or has committed.
		err := tx.NewRaw("SELECT totp_enabled_at IS NOT NULL FROM admins WHERE id = ? AND disabled_at IS NULL FOR UPDATE", adminID).Scan(ctx, &on)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if on {
			return ErrConflict
		}
		_, err = tx.NewUpdate().Model((*models.Admin)(nil)).
			Set("totp_secret_sealed = ?", sealed).
			Set("totp_last_step = NULL").
			Set("updated_at = now()").
			Where("a.id = ?", adminID).
			Exec(ctx)
		if err != nil {
			return err
		}
		if audit != nil {
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return err
	} else if err != nil {
		return fmt.Errorf("store: beginning TOTP enrolment: %w", err)
	}
	return nil
}

// EnableAdminTOTP turns TOTP on for the admin whose pending secret is
// still sealed (compare-and-swap: an enrolment begun again meanwhile
// wins), records step as the last one used, replaces the recovery codes
// with codeHashes and writes audit, in one transaction. ErrNotFound, with
// nothing written, when that enrolment is no longer pending.
func (s *Store) EnableAdminTOTP(ctx context.Context, adminID string, sealed []byte, step int64, codeHashes [][]byte, audit *models.AuditEntry) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*models.Admin)(nil)).
			Set("totp_enabled_at = now()").
			Set("totp_last_step = ?", step).
			Set("updated_at = now()").
			Where("a.id = ? AND a.totp_enabled_at IS NULL AND a.disabled_at IS NULL AND a.totp_secret_sealed = ?", adminID, sealed).
			Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		if err := replaceRecoveryCodes(ctx, tx, adminID, codeHashes); err != nil {
			return err
		}
		if audit != nil {
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return err
	} else if err != nil {
		return fmt.Errorf("store: enabling TOTP: %w", err)
	}
	return nil
}

// replaceRecoveryCodes deletes the admin's recovery codes and inserts
// codeHashes (none: only deletes).
func replaceRecoveryCodes(ctx context.Context, db bun.IDB, adminID string, codeHashes [][]byte) error {
	if _, err := db.NewRaw("DELETE FROM admin_recovery_codes WHERE admin_id = ?", adminID).Exec(ctx); err != nil {
		return err
	}
	if len(codeHashes) == 0 {
		return nil
	}
	rows := make([]recoveryCode, len(codeHashes))
	for i, h := range codeHashes {
		rows[i] = recoveryCode{AdminID: adminID, CodeHash: h}
	}
	_, err := db.NewInsert().Model(&rows).Exec(ctx)
	return err
}

// recoveryCode is a row of admin_recovery_codes.
type recoveryCode struct {
	bun.BaseModel `bun:"table:admin_recovery_codes,alias:rc"`

	AdminID  string `bun:"admin_id,pk,type:uuid"`
	CodeHash []byte `bun:"code_hash,pk"`
}

// UseAdminTOTPStep records step as the admin's last TOTP step used, if
// TOTP is on and step is later than every step used before: a code is
// then accepted once, and never after a later one. It reports whether it
// did, in one statement, so that of 50 sign-ins with the same code at once
// exactly one gets true.
func (s *Store) UseAdminTOTPStep(ctx context.Context, adminID string, step int64) (bool, error) {
	res, err := s.db.NewUpdate().Model((*models.Admin)(nil)).
		Set("totp_last_step = ?", step).
		Where("a.id = ? AND a.totp_enabled_at IS NOT NULL", adminID).
		Where("(a.totp_last_step IS NULL OR a.totp_last_step < ?)", step).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("store: using a TOTP step: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: using a TOTP step: %w", err)
	}
	return n == 1, nil
}

// UseAdminRecoveryCode spends the admin's unused recovery code whose hash
// is codeHash, in one statement (so it is spent once however many try it
// at once), and reports whether there was one and how many stay unused.
func (s *Store) UseAdminRecoveryCode(ctx context.Context, adminID string, codeHash []byte) (ok bool, left int, err error) {
	err = s.db.NewRaw(`WITH used AS (
			UPDATE admin_recovery_codes SET used_at = now()
			WHERE admin_id = ?0 AND code_hash = ?1 AND used_at IS NULL
			  AND EXISTS (SELECT 1 FROM admins WHERE id = ?0 AND totp_enabled_at IS NOT NULL)
			RETURNING code_hash)
		SELECT (SELECT count(*) FROM used) = 1,
			(SELECT count(*) FROM admin_recovery_codes WHERE admin_id = ?0 AND used_at IS NULL) - (SELECT count(*) FROM used)`,
		adminID, codeHash).Scan(ctx, &ok, &left)
	if err != nil {
		return false, 0, fmt.Errorf("store: using a recovery code: %w", err)
	}
	return ok, left, nil
}

// RecoveryCodesLeft is how many of the admin's recovery codes are unused.
func (s *Store) RecoveryCodesLeft(ctx context.Context, adminID string) (int, error) {
	var n int
	err := s.db.NewRaw("SELECT count(*) FROM admin_recovery_codes WHERE admin_id = ? AND used_at IS NULL", adminID).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("store: counting recovery codes: %w", err)
	}
	return n, nil
}

// DisableAdminTOTP turns the admin's TOTP off (a pending enrolment too)
// and deletes their recovery codes; when revoke is true it also ends
// their sessions (a reset by another admin: the lost phone may be in the
// wrong hands). audit is written in the same transaction, its Target set
// to the admin. ErrNotFound when there is no admin with id; ErrConflict,
// with nothing written, when onlyIfOn and TOTP is off.
func (s *Store) DisableAdminTOTP(ctx context.Context, adminID string, onlyIfOn, revoke bool, audit *models.AuditEntry) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var on bool
		err := tx.NewRaw("SELECT totp_enabled_at IS NOT NULL FROM admins WHERE id = ? FOR UPDATE", adminID).Scan(ctx, &on)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if onlyIfOn && !on {
			return ErrConflict
		}
		_, err = tx.NewUpdate().Model((*models.Admin)(nil)).
			Set("totp_secret_sealed = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = now()").
			Where("a.id = ?", adminID).
			Exec(ctx)
		if err != nil {
			return err
		}
		if err := replaceRecoveryCodes(ctx, tx, adminID, nil); err != nil {
			return err
		}
		if revoke {
			if _, err := endAdminSessions(ctx, tx, adminID, ""); err != nil {
				return err
			}
		}
		if audit != nil {
			audit.Target = &adminID
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return err
	} else if err != nil {
		return fmt.Errorf("store: disabling TOTP: %w", err)
	}
	return nil
}
