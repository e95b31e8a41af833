package store

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/models"
)

// seedNames mix Chinese and Latin, as real WeChat nicknames do.
var seedNames = []string{"张三", "李四", "王五", "小明", "阿花", "Band", "Lucy", "Kevin", "微信用户", "星星", "Tom", "小红", "Amy", "大伟", "Jack"}

// seedCity is a city as a zh_CN mini program received it (city, province),
// weighted roughly by its share of WeChat users.
type seedCity struct {
	city, province string
	weight         int
}

var seedCities = []seedCity{
	{"上海", "上海", 24}, {"北京", "北京", 22}, {"深圳", "广东", 18}, {"广州", "广东", 18}, {"重庆", "重庆", 16},
	{"成都", "四川", 16}, {"武汉", "湖北", 12}, {"杭州", "浙江", 12}, {"西安", "陕西", 11}, {"天津", "天津", 10},
	{"苏州", "江苏", 10}, {"郑州", "河南", 10}, {"南京", "江苏", 9}, {"长沙", "湖南", 9}, {"东莞", "广东", 8},
	{"青岛", "山东", 8}, {"沈阳", "辽宁", 7}, {"宁波", "浙江", 7}, {"昆明", "云南", 7}, {"合肥", "安徽", 7},
	{"佛山", "广东", 7}, {"济南", "山东", 7}, {"石家庄", "河北", 7}, {"福州", "福建", 6}, {"哈尔滨", "黑龙江", 6},
	{"南宁", "广西", 6}, {"厦门", "福建", 5}, {"大连", "辽宁", 5}, {"贵阳", "贵州", 5}, {"南昌", "江西", 5},
	{"太原", "山西", 5}, {"长春", "吉林", 5}, {"温州", "浙江", 5}, {"无锡", "江苏", 5}, {"泉州", "福建", 5},
	{"乌鲁木齐", "新疆", 4}, {"兰州", "甘肃", 4}, {"呼和浩特", "内蒙古", 3}, {"海口", "海南", 2}, {"拉萨", "西藏", 1},
}

// seedCityPick maps a draw below its length to an index of seedCities.
var seedCityPick = func() []uint8 {
	var pick []uint8
	for i, c := range seedCities {
		for range c.weight {
			pick = append(pick, uint8(i))
		}
	}
	return pick
}()

// seedMobilePrefixes are mainland mobile number prefixes (China Mobile,
// Unicom, Telecom): a seeded phone is one of them and 8 more digits.
var seedMobilePrefixes = []string{
	"130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150", "151", "152", "153",
	"155", "156", "157", "158", "159", "166", "170", "171", "173", "175", "176", "177", "178", "180", "181", "182",
	"183", "184", "185", "186", "187", "188", "189", "191", "193", "195", "196", "197", "198", "199",
}

// seedReasons are why operators disable users, as they write it.
var seedReasons = []string{"批量注册，疑似刷单", "多次发布违规广告", "用户本人申请冻结账号", "疑似被盗号，待本人核实", "恶意骚扰客服", "使用外挂刷积分"}

// seedIPNets are the first two octets of some Chinese ISPs' address blocks.
var seedIPNets = [][2]byte{{183, 14}, {117, 136}, {223, 104}, {112, 96}, {36, 112}, {113, 88}, {120, 229}, {59, 41}, {218, 17}, {106, 39}}

// Shares of the seeded users: how many never came back after their first
// login, have a phone number, kept their city private, and one in
// seedDisabledEvery is disabled.
const (
	seedOnceShare      = 0.2
	seedPhoneShare     = 0.35
	seedNoCityShare    = 0.25
	seedDisabledEvery  = 1000
	seedSessionTTL     = 30 * 24 * time.Hour // SESSION_TTL's default
	seedSpan           = 2 * 365 * 24 * time.Hour
	seedPhoneMultplier = 48_271_229 // coprime to 10^8: k ↦ k·m mod 10^8 is one to one
)

// SeedOptions says what Seed makes.
type SeedOptions struct {
	// Users is how many users.
	Users int
	// AppID names the identities' mini program.
	AppID string
	// Admin is who disabled the disabled users. Nil takes the first
	// enabled ADMIN, or makes a disabled admin "seed-admin" that cannot
	// sign in when there is none.
	Admin *models.Admin
	// Progress, when set, receives a line as each table fills.
	Progress io.Writer
	// Now is the seed's present; time.Now when zero (tests fix it).
	Now time.Time
}

// seedUser is one seeded user's life, drawn from its own random stream so
// that each table's rows agree on it without holding it in memory.
type seedUser struct {
	id, identityID, sessionID, firstSessionID string
	created, last                             time.Time
	// once: the user never logged in after the first time (last == created).
	once         bool
	nickname     string
	gender       int
	city         int // an index of seedCities, or -1
	phone        string
	bound        time.Time
	disabled     time.Time // zero when enabled
	reason       string
	firstIP      string
	live         bool // the last login's session has not expired
	unionID      string
	openID       string
	phoneMasked  string
	sessionIP    string
	lastSeen     time.Time
	updated      time.Time
	sessionToken []byte
}

// Seed fills the database with n realistic users for load tests and
// benchmarks; see SeedWith. appID names the identities' app.
func (s *Store) Seed(ctx context.Context, n int, appID string) error {
	return s.SeedWith(ctx, SeedOptions{Users: n, AppID: appID})
}

// SeedWith fills the database with users whose data holds together, as a
// server's would after two years: each user was created by their first
// login (a user.create and a user.login audit row then, identity created
// then), most came back later (their last login is a user.login row too,
// and users.last_login_at and the identity's are that time); everyone who
// logged in within SESSION_TTL's default has that login's session, alive
// (revoked if they were disabled since); 35% have a unique mainland phone
// number with its user.bind_phone row; cities spread over China, a quarter
// unknown; one in a thousand is disabled, with a reason, the admin who did
// it and the user.disable row. It streams the rows with COPY in one
// transaction, so a failed seed leaves nothing.
func (s *Store) SeedWith(ctx context.Context, o SeedOptions) error {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	now := o.Now.UTC().Truncate(time.Microsecond)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	defer conn.Close()
	// One transaction on one connection (COPY needs the raw connection): a
	// user is never seen without its identity, and a failed seed leaves nothing.
	if _, err := conn.ExecContext(ctx, "BEGIN; SET LOCAL statement_timeout = 0"); err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	adm, err := seedAdmin(ctx, conn, o.Admin)
	if err != nil {
		return err
	}
	// Phone numbers follow on from the users already there, so that a
	// second seed's numbers do not repeat the first's.
	var base int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&base); err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	var runSeed [16]byte
	_, _ = crand.Read(runSeed[:])
	seed1, seed2 := binary.LittleEndian.Uint64(runSeed[:8]), binary.LittleEndian.Uint64(runSeed[8:])
	// Each run's openids carry a tag of their own, so a second run adds
	// users instead of colliding with the first's.
	tag := fmt.Sprintf("seed%x", uint32(seed1))
	plan := func(i int) *seedUser { return planSeedUser(seed1, seed2, i, o.Users, base, now, tag) }

	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999Z07:00") }
	null := func(v string) string {
		if v == "" {
			return `\N`
		}
		return v
	}
	start := time.Now()
	type table struct {
		name, copy string
		row        func(w *bufio.Writer, u *seedUser) int
	}
	tables := []table{
		{"users", "COPY users (id, nickname, gender, city, province, country, phone, phone_country_code, created_at, updated_at, last_login_at, disabled_at, disabled_reason, disabled_by) FROM STDIN",
			func(w *bufio.Writer, u *seedUser) int {
				city, province, country, cc, disabled, by := `\N`, `\N`, `\N`, `\N`, `\N`, `\N`
				if u.city >= 0 {
					city, province, country = seedCities[u.city].city, seedCities[u.city].province, "中国"
				}
				if u.phone != "" {
					cc = "86"
				}
				if !u.disabled.IsZero() {
					disabled, by = ts(u.disabled), adm.ID
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.id, u.nickname, u.gender, city, province, country,
					null(u.phone), cc, ts(u.created), ts(u.updated), ts(u.last), disabled, null(u.reason), by)
				return 1
			}},
		{"identities", "COPY identities (id, user_id, provider, appid, openid, unionid, created_at, updated_at, last_login_at) FROM STDIN",
			func(w *bufio.Writer, u *seedUser) int {
				fmt.Fprintf(w, "%s\t%s\twechat_miniprogram\t%s\t%s\t%s\t%s\t%s\t%s\n", u.identityID, u.id, o.AppID, u.openID, null(u.unionID), ts(u.created), ts(u.last), ts(u.last))
				return 1
			}},
		{"sessions", "COPY sessions (id, token_hash, user_id, identity_id, session_key_sealed, created_at, last_seen_at, expires_at, revoked_at, ip) FROM STDIN",
			func(w *bufio.Writer, u *seedUser) int {
				if !u.live {
					return 0
				}
				revoked := `\N`
				if !u.disabled.IsZero() {
					revoked = ts(u.disabled) // disabling a user ends their sessions
				}
				fmt.Fprintf(w, "%s\t\\\\x%s\t%s\t%s\t\\\\x00\t%s\t%s\t%s\t%s\t%s\n", u.sessionID, hex.EncodeToString(u.sessionToken), u.id, u.identityID,
					ts(u.last), ts(u.lastSeen), ts(u.last.Add(seedSessionTTL)), revoked, u.sessionIP)
				return 1
			}},
		{"audit_log", "COPY audit_log (id, at, actor_kind, actor_id, actor_name, action, target, ip, detail) FROM STDIN",
			func(w *bufio.Writer, u *seedUser) int {
				n := 0
				row := func(at time.Time, kind, actor, actorName, action, ip, detail string) {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", NewID(), ts(at), kind, actor, actorName, action, u.id, ip, detail)
					n++
				}
				first := fmt.Sprintf(`{"appid": %q, "session": %q}`, o.AppID, u.firstSessionID)
				row(u.created, "user", u.id, `\N`, "user.create", u.firstIP, first)
				row(u.created, "user", u.id, `\N`, "user.login", u.firstIP, first)
				if u.phone != "" {
					row(u.bound, "user", u.id, `\N`, "user.bind_phone", u.sessionIP, fmt.Sprintf(`{"countryCode": "86", "phone": %q, "method": "code"}`, u.phoneMasked))
				}
				if !u.once {
					row(u.last, "user", u.id, `\N`, "user.login", u.sessionIP, fmt.Sprintf(`{"appid": %q, "session": %q}`, o.AppID, u.sessionID))
				}
				if !u.disabled.IsZero() {
					row(u.disabled, "admin", adm.ID, adm.Username, "user.disable", `\N`, fmt.Sprintf(`{"reason": %q}`, u.reason))
				}
				return n
			}},
	}
	for _, t := range tables {
		if err := s.copyRows(ctx, conn, t.copy, o.Users, func(w *bufio.Writer, i int) int { return t.row(w, plan(i)) },
			func(users, rows int) {
				fmt.Fprintf(o.Progress, "seed: %-10s %9d rows for %d/%d users, %v\n", t.name, rows, users, o.Users, time.Since(start).Round(100*time.Millisecond))
			}); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	committed = true
	fmt.Fprintf(o.Progress, "seed: committed; analyzing the tables\n")
	if _, err := conn.ExecContext(ctx, "ANALYZE users; ANALYZE identities; ANALYZE sessions; ANALYZE audit_log"); err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	return nil
}

// planSeedUser draws user i's life from a stream of its own.
func planSeedUser(seed1, seed2 uint64, i, n, base int, now time.Time, tag string) *seedUser {
	rnd := rand.New(rand.NewPCG(seed1, seed2^uint64(i)*0x9e3779b97f4a7c15))
	u := &seedUser{}
	// Creation times ascend with i over two years, and UUIDv7 ids with
	// them, as in production.
	u.created = now.Add(-seedSpan + time.Duration(float64(seedSpan)*(float64(i)+rnd.Float64())/float64(n))).Truncate(time.Microsecond)
	if u.created.After(now) {
		u.created = now
	}
	u.id = seedUUID(rnd, u.created)
	u.identityID = seedUUID(rnd, u.created)
	u.firstSessionID = seedUUID(rnd, u.created)
	u.openID = fmt.Sprintf("%s-%d", tag, i)
	if i%4 != 0 {
		u.unionID = fmt.Sprintf("%s-union-%d", tag, i)
	}
	// The last login: the first for some, else skewed towards today, as
	// active users log in often (x^1.5: some 20% logged in within 30 days).
	u.last = u.created
	if rnd.Float64() >= seedOnceShare {
		x := rnd.Float64()
		u.last = now.Add(-time.Duration(float64(now.Sub(u.created)) * x * math.Sqrt(x))).Truncate(time.Microsecond)
	}
	u.once = u.last.Equal(u.created)
	u.nickname = fmt.Sprintf("%s%d", seedNames[rnd.IntN(len(seedNames))], rnd.IntN(100000))
	u.gender = rnd.IntN(3)
	u.city = -1
	if rnd.Float64() >= seedNoCityShare {
		u.city = int(seedCityPick[rnd.IntN(len(seedCityPick))])
	}
	u.firstIP, u.sessionIP = seedIP(rnd), seedIP(rnd)
	u.updated = u.last
	if rnd.Float64() < seedPhoneShare {
		k := base + i
		p := len(seedMobilePrefixes)
		national := fmt.Sprintf("%s%08d", seedMobilePrefixes[k%p], (uint64(k/p)*seedPhoneMultplier+12_345_678)%100_000_000)
		u.phone = "+86" + national
		u.phoneMasked = "+86" + national[:3] + "****" + national[7:]
		// Bound during one of their visits, between the first and the last.
		u.bound = u.created.Add(time.Duration(rnd.Float64() * float64(u.last.Sub(u.created)))).Truncate(time.Microsecond)
	}
	if i%seedDisabledEvery == seedDisabledEvery-1 {
		u.disabled = u.last.Add(time.Duration(rnd.Float64() * float64(now.Sub(u.last)))).Truncate(time.Microsecond)
		u.reason = seedReasons[rnd.IntN(len(seedReasons))]
		u.updated = u.disabled
	}
	u.live = now.Sub(u.last) < seedSessionTTL
	if u.live {
		u.sessionID = seedUUID(rnd, u.last)
		tok := sha256.Sum256([]byte(u.sessionID + tag))
		u.sessionToken = tok[:]
		// Seen since, up to now (or until disabled, which ended it).
		until := now
		if !u.disabled.IsZero() {
			until = u.disabled
		}
		u.lastSeen = u.last.Add(time.Duration(rnd.Float64() * float64(until.Sub(u.last)))).Truncate(time.Microsecond)
	} else {
		// That session expired and was purged; its id stays in the audit row.
		u.sessionID = seedUUID(rnd, u.last)
	}
	return u
}

// seedUUID is a UUIDv7 of the moment at, its random bits from rnd.
func seedUUID(rnd *rand.Rand, at time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], rnd.Uint64())
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16|rnd.Uint64()&0xfff)
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// seedIP is an address in one of seedIPNets.
func seedIP(rnd *rand.Rand) string {
	n := seedIPNets[rnd.IntN(len(seedIPNets))]
	return fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], rnd.IntN(256), 1+rnd.IntN(254))
}

// seedAdmin returns the admin the seed's disablings are by: a, else the
// first enabled ADMIN, else a new disabled "seed-admin" whose password
// hash is well formed but matches no password, so that nobody signs in
// as it and a try is refused like any wrong password.
func seedAdmin(ctx context.Context, conn bun.Conn, a *models.Admin) (*models.Admin, error) {
	if a != nil {
		return a, nil
	}
	a = new(models.Admin)
	err := conn.NewSelect().Model(a).Where("role = ? AND disabled_at IS NULL", models.RoleAdmin).OrderExpr("created_at, id").Limit(1).Scan(ctx)
	if err == nil {
		return a, nil
	}
	if err := conn.NewSelect().Model(a).Where("username = 'seed-admin'").Scan(ctx); err == nil {
		return a, nil
	}
	salt, key := make([]byte, 16), make([]byte, 32)
	_, _ = crand.Read(salt)
	_, _ = crand.Read(key)
	enc := base64.RawStdEncoding
	now := time.Now()
	a = &models.Admin{ID: NewID(), Username: "seed-admin", Role: models.RoleAdmin, DisabledAt: &now,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key)}
	if _, err := conn.NewInsert().Model(a).Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: seed: making the seed's admin: %w", err)
	}
	return a, nil
}

// copyRows streams the rows row writes for each of n users into the COPY
// statement copy, telling progress at each tenth and at the end.
func (s *Store) copyRows(ctx context.Context, conn bun.Conn, copy string, n int, row func(w *bufio.Writer, i int) int, progress func(users, rows int)) error {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<16)
		rows, step := 0, max(n/10, 1)
		for i := range n {
			rows += row(w, i)
			if (i+1)%step == 0 || i == n-1 {
				progress(i+1, rows)
			}
		}
		_ = pw.CloseWithError(w.Flush())
	}()
	if _, err := pgdriver.CopyFrom(ctx, conn, pr, copy); err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("store: seed: %s: %w", strings.Fields(copy)[1], err)
	}
	return nil
}
