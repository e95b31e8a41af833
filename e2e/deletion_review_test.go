package e2e_test

import (
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/wechat/wechattest"
)

// Review of issue 19: a bindPhoneNumber already past its session check,
// waiting on WeChat, when the account is erased (deleteAccount with a
// grace of 0 here; deleteUser likewise) stores the number on the
// tombstone afterwards: the erased account holds a phone number again,
// and the number can never be bound by anybody else (users_phone_key).
func TestDeletion_InFlightBindPhoneAfterErasure(t *testing.T) {
	t.Parallel()
	ts, _ := deletionServer(t, "", func(c *app.Config) { c.AccountDeleteGrace = 0 })
	const user = "del-review-inflight"
	national := randomMobile(t)
	if err := ts.Sim.SetPhone(user, "86", national); err != nil {
		t.Fatal(err)
	}
	u := mustLoginAs(t, ts, apptest.AppID, user)
	code, err := ts.Sim.PhoneCode("", user)
	if err != nil {
		t.Fatal(err)
	}
	ts.Sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Delay: time.Second})
	done := make(chan *apptest.Response, 1)
	go func() {
		done <- ts.Do(t, u.Token, bindPhone, map[string]any{"in": map[string]any{"code": code}})
	}()
	time.Sleep(300 * time.Millisecond) // the bind is waiting on WeChat
	if d := mustDeleteAccount(t, ts, u.Token); !d.Erased {
		t.Fatalf("deleteAccount = %+v, want erased at once", d)
	}
	r := <-done
	t.Logf("bindPhoneNumber answered %s", r.Raw)
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND deleted_at IS NOT NULL AND phone IS NOT NULL", u.User.ID); n != 0 {
		t.Fatal("the erased account's tombstone holds the phone number bound by a request that was in flight")
	}
}
