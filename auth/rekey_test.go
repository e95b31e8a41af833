package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// TestRekey runs rekey over a database holding every kind of sealed value:
// version 1 under the old and under the current key, version 2 under the
// old key, under the current key, and under a key nobody has, and access
// tokens likewise. Two rekeys run at once; everything that opens ends up
// under the current key with its plaintext intact, the rest is left
// byte for byte, and a second run finds nothing more to do.
func TestRekey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.OpenFresh(t)
	if err := st.Seed(ctx, 300, "wx5555555555555555"); err != nil {
		t.Fatal(err)
	}
	k1, k2, lost := randomKey(t), randomKey(t), randomKey(t)
	s1, _ := newSealer(k1)
	s2, _ := newSealer(k2)
	sLost, _ := newSealer(lost)

	// kinds of value, by how they were sealed; the last is unopenable.
	kinds := []func(pt, ad []byte) []byte{
		func(pt, ad []byte) []byte { return sealVersion1(t, k1, pt, ad) },
		func(pt, ad []byte) []byte { return s1.sealAD(pt, ad) },
		func(pt, ad []byte) []byte { return s2.sealAD(pt, ad) },
		func(pt, ad []byte) []byte { return sealVersion1(t, k2, pt, ad) },
		func(pt, ad []byte) []byte { return sLost.sealAD(pt, ad) },
	}
	const current, unopenable = 2, 4
	type row struct {
		col    store.SealedColumn
		id     string
		kind   int
		sealed []byte
	}
	var rows []row
	var ids []string
	if err := st.DB().NewRaw("SELECT id::text FROM sessions ORDER BY id").Scan(ctx, &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) < 25 {
		t.Fatalf("seeded %d sessions", len(ids))
	}
	for i, id := range ids {
		r := row{col: store.SessionKeys, id: id, kind: i % len(kinds)}
		r.sealed = kinds[r.kind]([]byte("session-key-"+id), aad(id))
		if _, err := st.DB().ExecContext(ctx, "UPDATE sessions SET session_key_sealed = ? WHERE id = ?", r.sealed, id); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	for i := range kinds {
		id := "wx600000000000000" + string(rune('0'+i))
		r := row{col: store.AccessTokens, id: id, kind: i}
		r.sealed = kinds[i]([]byte("access-token-"+id), tokenAD(id))
		if _, err := st.DB().ExecContext(ctx, "INSERT INTO wechat_access_tokens (appid, token_sealed, expires_at) VALUES (?, ?, now() + interval '1 hour')", id, r.sealed); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	for i := range kinds {
		id := fmt.Sprintf("00000000-0000-7000-8000-00000000010%d", i)
		r := row{col: store.AdminTOTPSecrets, id: id, kind: i}
		r.sealed = kinds[i]([]byte("totp-secret-"+id), totpAD(id))
		if _, err := st.DB().ExecContext(ctx, "INSERT INTO admins (id, username, password_hash, role, totp_secret_sealed) VALUES (?, ?, 'x', 'VIEWER', ?)",
			id, fmt.Sprintf("rekey-totp-%d", i), r.sealed); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	// An admin without TOTP is nobody's to rekey either.
	if _, err := st.DB().ExecContext(ctx, "INSERT INTO admins (id, username, password_hash, role) VALUES ('00000000-0000-7000-8000-000000000109', 'rekey-no-totp', 'x', 'VIEWER')"); err != nil {
		t.Fatal(err)
	}
	// A row that holds no token (a renewal that failed) is nobody's to rekey.
	if _, err := st.DB().ExecContext(ctx, "INSERT INTO wechat_access_tokens (appid) VALUES ('wx6000000000000009')"); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{} // name: old ones, unopenable ones
	for _, r := range rows {
		w := want[r.col.Name]
		if r.kind != current {
			w[0]++
		}
		if r.kind == unopenable {
			w[1]++
		}
		want[r.col.Name] = w
	}

	before, err := CountOldSealed(ctx, st, k2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range before {
		if p.Total != want[p.Name][0] {
			t.Fatalf("before: %d %s under an old key, want %d", p.Total, p.Name, want[p.Name][0])
		}
	}

	// Two rekeys at once, in small batches: together they re-seal each
	// value once; where both tried, the compare-and-swap let one win.
	var mu sync.Mutex
	var reports []RekeyProgress
	results := make([][]RekeyProgress, 2)
	var wg sync.WaitGroup
	for i := range results {
		r, err := NewRekeyer(st, k2, k1)
		if err != nil {
			t.Fatal(err)
		}
		r.Batch = 4
		r.Progress = func(p RekeyProgress) {
			mu.Lock()
			reports = append(reports, p)
			mu.Unlock()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if results[i], err = r.Rekey(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for c, name := range []string{"sessions", "access tokens", "admin totp secrets"} {
		var resealed int64
		for _, res := range results {
			p := res[c]
			if p.Name != name || p.Unopenable < want[name][1] || p.Done() > p.Total {
				t.Fatalf("%s: %+v", name, p)
			}
			resealed += p.Resealed
		}
		if wantResealed := want[name][0] - want[name][1]; resealed != wantResealed {
			t.Fatalf("%s: re-sealed %d in all, want %d (%+v)", name, resealed, wantResealed, results)
		}
	}
	if len(reports) < 4 {
		t.Fatalf("%d progress reports from 2 rekeys of 3 tables", len(reports))
	}

	// Every value that opened now opens under k2 alone, with the same
	// plaintext; the unopenable ones are untouched.
	for _, r := range rows {
		var sealed []byte
		q := "SELECT session_key_sealed FROM sessions WHERE id = ?"
		ad, pt := aad(r.id), "session-key-"+r.id
		switch r.col {
		case store.AccessTokens:
			q = "SELECT token_sealed FROM wechat_access_tokens WHERE appid = ?"
			ad, pt = tokenAD(r.id), "access-token-"+r.id
		case store.AdminTOTPSecrets:
			q = "SELECT totp_secret_sealed FROM admins WHERE id = ?"
			ad, pt = totpAD(r.id), "totp-secret-"+r.id
		}
		if err := st.DB().NewRaw(q, r.id).Scan(ctx, &sealed); err != nil {
			t.Fatal(err)
		}
		if r.kind == unopenable {
			if !bytes.Equal(sealed, r.sealed) {
				t.Fatalf("%s %s: an unopenable value was changed", r.col.Name, r.id)
			}
			continue
		}
		got, err := s2.openAD(sealed, ad)
		if err != nil || string(got) != pt || !s2.current(sealed) {
			t.Fatalf("%s %s (kind %d): %q, %v", r.col.Name, r.id, r.kind, got, err)
		}
		if r.kind == current && !bytes.Equal(sealed, r.sealed) {
			t.Fatalf("%s %s: a current value was sealed again", r.col.Name, r.id)
		}
	}

	// Once more: only the unopenable are left, and stay.
	again, _ := NewRekeyer(st, k2, k1)
	again.Batch = 2
	var done []int64
	again.Progress = func(p RekeyProgress) {
		if p.Name == "sessions" {
			done = append(done, p.Done())
		}
	}
	res, err := again.Rekey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := want["sessions"][1]; len(done) < int(u)/2 || done[0] != 2 || done[len(done)-1] != u {
		t.Fatalf("second run's progress on %d sessions in batches of 2: %v", u, done)
	}
	after, err := CountOldSealed(ctx, st, k2)
	if err != nil {
		t.Fatal(err)
	}
	for c, p := range res {
		u := want[p.Name][1]
		if p.Total != u || p.Resealed != 0 || p.Unopenable != u || after[c].Total != u {
			t.Fatalf("second run, %s: %+v, %d old after", p.Name, p, after[c].Total)
		}
	}
}

// TestReplaceSealed_ComparesAndSwaps: a value changed since rekey read it
// (a renewal stored a fresh token) is not overwritten.
func TestReplaceSealed_ComparesAndSwaps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.OpenFresh(t)
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO wechat_access_tokens (appid, token_sealed) VALUES ('wx7000000000000001', '\x01aa')`); err != nil {
		t.Fatal(err)
	}
	vals, err := st.OldSealed(ctx, store.AccessTokens, []byte{2, 0, 0, 0, 0}, "", 10)
	if err != nil || len(vals) != 1 {
		t.Fatalf("%v, %v", vals, err)
	}
	// Meanwhile a renewal writes a fresh token.
	if _, err := st.DB().ExecContext(ctx, "UPDATE wechat_access_tokens SET token_sealed = ?", []byte("\x02fresh")); err != nil {
		t.Fatal(err)
	}
	n, err := st.ReplaceSealed(ctx, store.AccessTokens, []store.Resealed{{ID: vals[0].ID, Old: vals[0].Sealed, New: []byte("\x02resealed")}})
	if err != nil || n != 0 {
		t.Fatalf("replaced %d, %v", n, err)
	}
	var got []byte
	if err := st.DB().NewRaw("SELECT token_sealed FROM wechat_access_tokens").Scan(ctx, &got); err != nil || string(got) != "\x02fresh" {
		t.Fatalf("token_sealed = %q, %v", got, err)
	}
	n, err = st.ReplaceSealed(ctx, store.AccessTokens, []store.Resealed{{ID: vals[0].ID, Old: got, New: []byte("\x02resealed")}})
	if err != nil || n != 1 {
		t.Fatalf("replaced %d, %v", n, err)
	}
}

// insertSessions adds n sessions of one seeded user, each holding the
// sealed value '\x00' (opening under no key), their ids ascending with
// their rows as NewID's UUIDv7 do.
func insertSessions(tb testing.TB, st *store.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	if err := st.Seed(ctx, 1, "wx5555555555555555"); err != nil {
		tb.Fatal(err)
	}
	// In steps, each well within the store's statement timeout.
	for done := 0; done < n; done += 10000 {
		if _, err := st.DB().ExecContext(ctx, `
			INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, expires_at)
			SELECT (lpad(to_hex(g + ?), 12, '0') || '70008000' || substr(md5(g::text), 1, 12))::uuid, sha256(convert_to(g::text || '-' || random()::text, 'UTF8')), i.user_id, i.id, '\x00', now() + interval '30 days'
			FROM identities i CROSS JOIN generate_series(1, ?) g`, done, min(10000, n-done)); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := st.DB().ExecContext(ctx, "VACUUM ANALYZE sessions"); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkRekey: one op re-seals one session_key, from format 1 under k1
// to format 2 under k2, in batches of DefaultRekeyBatch. Run it with a
// fixed count (-benchtime=100000x): the values are made before the timer.
func BenchmarkRekey(b *testing.B) {
	ctx := context.Background()
	st := storetest.OpenFresh(b)
	insertSessions(b, st, b.N)
	k1, k2 := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(k1)
	_, _ = rand.Read(k2)
	old, _ := newSealer(k1)
	for after := ""; ; {
		vals, err := st.OldSealed(ctx, store.SessionKeys, old.header(), after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(vals) == 0 {
			break
		}
		after = vals[len(vals)-1].ID
		var rs []store.Resealed
		for _, v := range vals {
			pt := make([]byte, 24)
			_, _ = rand.Read(pt)
			rs = append(rs, store.Resealed{ID: v.ID, Old: v.Sealed, New: sealVersion1(b, k1, pt, aad(v.ID))})
		}
		if _, err := st.ReplaceSealed(ctx, store.SessionKeys, rs); err != nil {
			b.Fatal(err)
		}
	}
	r, err := NewRekeyer(st, k2, k1)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := r.Rekey(ctx)
	b.StopTimer()
	if err != nil || res[0].Resealed < int64(b.N) {
		b.Fatalf("%+v, %v", res, err)
	}
}

// BenchmarkCountOldSealed: one op is one session in the start-up count
// (a sequential scan of sessions). Run it with a fixed count
// (-benchtime=1000000x): the rows are made before the timer.
func BenchmarkCountOldSealed(b *testing.B) {
	st := storetest.OpenFresh(b)
	insertSessions(b, st, b.N)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b.ResetTimer()
	counts, err := CountOldSealed(context.Background(), st, key)
	b.StopTimer()
	if err != nil || counts[0].Total < int64(b.N) {
		b.Fatalf("%+v, %v", counts, err)
	}
}
