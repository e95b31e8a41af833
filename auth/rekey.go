package auth

import (
	"context"
	"fmt"

	"wxlogin/store"
)

// DefaultRekeyBatch is how many values Rekey re-seals per statement.
const DefaultRekeyBatch = 1000

// RekeyProgress is how far Rekey has got through one column of sealed
// values.
type RekeyProgress struct {
	// Name says what the values are ("sessions", "access tokens").
	Name string
	// Total is how many values were under an old key or format when the
	// column's pass began; values sealed since then are all current.
	Total int64
	// Resealed are now sealed under the current key.
	Resealed int64
	// Changed were replaced while being re-sealed (a renewal, another
	// rekey): left as the other writer stored them.
	Changed int64
	// Unopenable open under no key given: left as they are, never lost.
	Unopenable int64
}

// Done is how many of Total this pass has dealt with.
func (p RekeyProgress) Done() int64 { return p.Resealed + p.Changed + p.Unopenable }

// Rekeyer re-seals every stored sealed value under the current SECRET_KEY,
// so that SECRET_KEY_PREVIOUS can then be dropped without anyone being
// logged out or losing what was sealed.
type Rekeyer struct {
	store  *store.Store
	sealer *sealer
	// Batch is how many values one statement re-seals; DefaultRekeyBatch
	// when zero.
	Batch int
	// Progress, when set, hears of each column's progress after every
	// batch, and once more at the end of the column.
	Progress func(RekeyProgress)
}

// NewRekeyer returns a Rekeyer over st sealing under secretKey and opening
// with it or any of previous.
func NewRekeyer(st *store.Store, secretKey []byte, previous ...[]byte) (*Rekeyer, error) {
	if len(secretKey) != SecretKeySize {
		return nil, fmt.Errorf("auth: secret key must be %d bytes", SecretKeySize)
	}
	sl, err := newSealer(secretKey, previous...)
	if err != nil {
		return nil, err
	}
	return &Rekeyer{store: st, sealer: sl}, nil
}

// Rekey walks every column of sealed values by primary key, a batch at a
// time, and re-seals under the current key each value that is not already:
// each batch is read without locks and written back by one compare-and-swap
// statement, so servers go on serving, logins go on writing, and two
// rekeys at once do no harm. Running it again finds nothing to do but what
// opens under no key. It returns every column's final progress.
func (r *Rekeyer) Rekey(ctx context.Context) ([]RekeyProgress, error) {
	var out []RekeyProgress
	for _, col := range store.SealedColumns {
		p, err := r.rekey(ctx, col)
		out = append(out, p)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (r *Rekeyer) rekey(ctx context.Context, col store.SealedColumn) (RekeyProgress, error) {
	batch := r.Batch
	if batch <= 0 {
		batch = DefaultRekeyBatch
	}
	header := r.sealer.header()
	p := RekeyProgress{Name: col.Name}
	var err error
	if p.Total, err = r.store.CountOldSealed(ctx, col, header); err != nil {
		return p, err
	}
	report := func() {
		// Values an instance with an old key sealed during this pass are
		// more than were counted.
		p.Total = max(p.Total, p.Done())
		if r.Progress != nil {
			r.Progress(p)
		}
	}
	after := ""
	for {
		values, err := r.store.OldSealed(ctx, col, header, after, batch)
		if err != nil {
			return p, err
		}
		if len(values) == 0 {
			break
		}
		after = values[len(values)-1].ID
		resealed := make([]store.Resealed, 0, len(values))
		for _, v := range values {
			ad, err := sealedAD(col, v.ID)
			if err != nil {
				return p, err
			}
			next, err := r.sealer.reseal(v.Sealed, ad)
			if err != nil {
				p.Unopenable++
				continue
			}
			resealed = append(resealed, store.Resealed{ID: v.ID, Old: v.Sealed, New: next})
		}
		n, err := r.store.ReplaceSealed(ctx, col, resealed)
		if err != nil {
			return p, err
		}
		p.Resealed += n
		p.Changed += int64(len(resealed)) - n
		if len(values) < batch {
			break
		}
		report()
	}
	report()
	return p, nil
}

// sealedAD is the associated data a value of col in row id is sealed with.
func sealedAD(col store.SealedColumn, id string) ([]byte, error) {
	switch col {
	case store.SessionKeys:
		return aad(id), nil
	case store.AccessTokens:
		return tokenAD(id), nil
	case store.AdminTOTPSecrets:
		return totpAD(id), nil
	}
	return nil, fmt.Errorf("auth: rekey does not know how %s are sealed", col.Name)
}

// CountOldSealed counts, per column, the stored values not sealed under
// secretKey in the current format: what `wxlogin rekey` would re-seal, or
// find opening under no key. Only Name and Total are set. It is one
// sequential scan of each table.
func CountOldSealed(ctx context.Context, st *store.Store, secretKey []byte) ([]RekeyProgress, error) {
	if len(secretKey) != SecretKeySize {
		return nil, fmt.Errorf("auth: secret key must be %d bytes", SecretKeySize)
	}
	sl, err := newSealer(secretKey)
	if err != nil {
		return nil, err
	}
	var out []RekeyProgress
	for _, col := range store.SealedColumns {
		n, err := st.CountOldSealed(ctx, col, sl.header())
		if err != nil {
			return nil, err
		}
		out = append(out, RekeyProgress{Name: col.Name, Total: n})
	}
	return out, nil
}
