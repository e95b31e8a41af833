// Command baseline is make bench's yardstick: the smallest reasonable
// net/http + pgx server for wxlogin's hottest request. GET /me with
// "Authorization: Bearer <token>" looks the session up by token hash,
// joined to its user, exactly as store.SessionByTokenHash does (one indexed
// query per request, no cache), and answers the user as JSON in the shape
// GraphQL's { me { … } } has.
//
//	DATABASE_URL=postgres://… baseline -addr 127.0.0.1:9090 -conns 20
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

const lookup = `SELECT u.id, u.nickname, u.avatar_url, u.gender, u.created_at, u.last_login_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL`

type me struct {
	ID          string     `json:"id"`
	Nickname    *string    `json:"nickname"`
	AvatarURL   *string    `json:"avatarUrl"`
	Gender      *string    `json:"gender"`
	CreatedAt   time.Time  `json:"createdAt"`
	LastLoginAt *time.Time `json:"lastLoginAt"`
}

var genders = map[int16]string{0: "UNKNOWN", 1: "MALE", 2: "FEMALE"}

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "listen address")
	conns := flag.Int("conns", 20, "pool size")
	flag.Parse()
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	cfg.MaxConns, cfg.MinConns = int32(*conns), int32(*conns)
	cfg.ConnConfig.RuntimeParams["application_name"] = "baseline"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	enc := base64.RawURLEncoding.Strict()
	http.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		raw, err := enc.DecodeString(tok)
		if !ok || err != nil || len(raw) != 32 {
			http.Error(w, `{"errors":[{"message":"unauthenticated"}]}`, http.StatusUnauthorized)
			return
		}
		h := sha256.Sum256(raw)
		var u me
		var uid pgtype.UUID
		var g *int16
		err = pool.QueryRow(r.Context(), lookup, h[:]).Scan(&uid, &u.Nickname, &u.AvatarURL, &g, &u.CreatedAt, &u.LastLoginAt)
		if err == pgx.ErrNoRows {
			http.Error(w, `{"errors":[{"message":"unauthenticated"}]}`, http.StatusUnauthorized)
			return
		} else if err != nil {
			http.Error(w, `{"errors":[{"message":"internal"}]}`, http.StatusInternalServerError)
			return
		}
		u.ID = uid.String()
		if g != nil {
			s := genders[*g]
			u.Gender = &s
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"me": u}})
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
