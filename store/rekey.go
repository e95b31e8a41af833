package store

import (
	"context"
	"fmt"
	"strings"
)

// SealedColumn is a column of values sealed under SECRET_KEY, which
// `wxlogin rekey` walks in batches by primary key. The store knows no
// crypto: it tells a value's key only by comparing its first bytes (its
// format version and key id) with the header the caller gives.
type SealedColumn struct {
	// Name says what the values are, in progress reports and the log.
	Name string
	// table, id (the primary key, of type idType) and column name the
	// values in SQL; they are constants, never input.
	table, id, idType, column string
}

// The columns that hold sealed values.
var (
	// SessionKeys are the sessions' WeChat session_keys.
	SessionKeys = SealedColumn{Name: "sessions", table: "sessions", id: "id", idType: "uuid", column: "session_key_sealed"}
	// AccessTokens are the shared WeChat access tokens, one per appid.
	AccessTokens = SealedColumn{Name: "access tokens", table: "wechat_access_tokens", id: "appid", idType: "text", column: "token_sealed"}
)

// SealedColumns are every column holding sealed values, for rekey.
var SealedColumns = []SealedColumn{SessionKeys, AccessTokens, AdminTOTPSecrets}

// SealedValue is one sealed value and the primary key of its row.
type SealedValue struct {
	ID     string
	Sealed []byte
}

// Resealed is a value sealed again: New replaces Old in row ID, but only
// if the row still holds Old.
type Resealed struct {
	ID       string
	Old, New []byte
}

// oldSealed is the condition of col's values not under header. A NULL
// (an access token row without a token) is nobody's.
func (col SealedColumn) oldSealed() string {
	return fmt.Sprintf("%s IS NOT NULL AND substring(%s from 1 for ?) <> ?", col.column, col.column)
}

// CountOldSealed counts col's values that do not start with header: those
// sealed under another key or in an older format. It reads the whole
// table (no index knows a value's key), one sequential scan.
func (s *Store) CountOldSealed(ctx context.Context, col SealedColumn, header []byte) (int64, error) {
	var n int64
	err := s.db.NewRaw("SELECT count(*) FROM "+col.table+" WHERE "+col.oldSealed(), len(header), header).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("store: counting %s under an old key: %w", col.Name, err)
	}
	return n, nil
}

// OldSealed returns up to limit of col's values that do not start with
// header, in primary-key order after the row after ("" for the first
// batch). It takes no lock: ReplaceSealed checks each value is unchanged.
func (s *Store) OldSealed(ctx context.Context, col SealedColumn, header []byte, after string, limit int) ([]SealedValue, error) {
	// ORDER BY t.id, qualified: a bare id would name the output column,
	// id::text, and sort every batch by text instead of walking the index.
	q := "SELECT t." + col.id + "::text, t." + col.column + " FROM " + col.table + " AS t WHERE " + col.oldSealed()
	args := []any{len(header), header}
	if after != "" {
		q += " AND t." + col.id + " > ?::" + col.idType
		args = append(args, after)
	}
	q += " ORDER BY t." + col.id + " LIMIT ?"
	args = append(args, limit)
	var out []SealedValue
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reading %s under an old key: %w", col.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v SealedValue
		if err := rows.Scan(&v.ID, &v.Sealed); err != nil {
			return nil, fmt.Errorf("store: reading %s under an old key: %w", col.Name, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading %s under an old key: %w", col.Name, err)
	}
	return out, nil
}

// ReplaceSealed stores every value's New in place of its Old, in one
// statement, and returns how many rows it changed. A row whose value is no
// longer Old (a renewal wrote a fresh token, another rekey got there
// first) is left as it is: a compare-and-swap, so no row is locked between
// reading and writing and nothing newer is overwritten.
func (s *Store) ReplaceSealed(ctx context.Context, col SealedColumn, values []Resealed) (int64, error) {
	if len(values) == 0 {
		return 0, nil
	}
	var q strings.Builder
	args := make([]any, 0, 3*len(values))
	fmt.Fprintf(&q, "UPDATE %s AS t SET %s = v.new FROM (VALUES ", col.table, col.column)
	for i, v := range values {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?::" + col.idType + ", ?::bytea, ?::bytea)")
		args = append(args, v.ID, v.Old, v.New)
	}
	fmt.Fprintf(&q, ") AS v(id, old, new) WHERE t.%s = v.id AND t.%s = v.old", col.id, col.column)
	res, err := s.db.ExecContext(ctx, q.String(), args...)
	if err != nil {
		return 0, fmt.Errorf("store: re-sealing %s: %w", col.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: re-sealing %s: %w", col.Name, err)
	}
	return n, nil
}
