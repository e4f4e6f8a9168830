package attacks

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/servicetest"
)

// TestNoSecretInLogs runs the binary as deployed, keys and buyer tokens
// on, logging at debug, and sends it the right key, wrong keys and keys in
// the wrong form, valid, expired, forged and malformed tokens; then, once
// it has stopped, looks for every secret in all it logged: no key (right or
// wrong), no token nor its signature, nor the token secret, is there; the
// key's name is, on the lines of its requests.
func TestNoSecretInLogs(t *testing.T) {
	t.Parallel()
	d := readDeployment(t).with("RESERVATION_REDIS_ADDRS="+redistest.Standalone(t), "RESERVATION_LOG_LEVEL=debug")
	svc := servicetest.Start(t, servicetest.Build(t), d.environ()...)
	c := newClient(t, svc.URL(), "127.0.0.1")
	ctx := t.Context()
	secret := buyerSecret(t)
	event := c.mustCreate(t, devKey, 10, 10)
	seat := event + ".1"
	user := "buyer-" + randomID()
	valid := token(t, secret, user)
	forged, _ := forgedTokens(t, secret, valid, 5)
	wrongKeys := []string{"wrong-" + randomID(), devKey + "x", valid}
	secrets := append([]string{devKey, string(secret)}, wrongKeys...)
	tokens := append([]string{valid}, forged...)

	for _, tt := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"the right key", http.Header{"Authorization": {"Bearer " + devKey}}, http.StatusOK},
		{"a wrong key", http.Header{"Authorization": {"Bearer " + wrongKeys[0]}}, http.StatusUnauthorized},
		{"a key one letter off", http.Header{"Authorization": {"Bearer " + wrongKeys[1]}}, http.StatusUnauthorized},
		{"a token as a key", http.Header{"Authorization": {"Bearer " + valid}}, http.StatusUnauthorized},
		{"the key as Basic", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("box-office:"+devKey))}}, http.StatusUnauthorized},
		{"the key without a scheme", http.Header{"Authorization": {devKey}}, http.StatusUnauthorized},
		{"the key twice", http.Header{"Authorization": {"Bearer " + devKey, "Bearer " + wrongKeys[0]}}, http.StatusUnauthorized},
		{"a valid token", http.Header{"X-Buyer-Token": {valid}}, http.StatusOK},
		{"a token twice", http.Header{"X-Buyer-Token": {valid, forged[0]}}, http.StatusUnauthorized},
		{"a token cut short", http.Header{"X-Buyer-Token": {valid[:len(valid)-3]}}, http.StatusUnauthorized},
		{"not a token", http.Header{"X-Buyer-Token": {"not.a.token"}}, http.StatusUnauthorized},
		{"the key as a token", http.Header{"X-Buyer-Token": {devKey}}, http.StatusUnauthorized},
	} {
		r := c.raw(t, http.MethodPost, harness.HoldPath, tt.header, map[string]string{"id": seat, "UUID": user})
		if r.Status != tt.want {
			t.Errorf("%s: %v, want %d", tt.name, r, tt.want)
		}
	}
	for _, tok := range forged {
		if r := c.seat(ctx, harness.HoldPath, cred{token: tok}, seat, user); r.Code != "INVALID_BUYER_TOKEN" {
			t.Errorf("forged token: %v", r)
		}
	}
	// Past the leeway that the service gives exp for clock skew.
	expired := identitytest.Mint(t, secret, user, time.Now().Add(-time.Minute), "")
	tokens = append(tokens, expired)
	for _, tt := range []struct {
		name string
		give reply
		want string
	}{
		{"an expired token", c.seat(ctx, harness.RefreshPath, cred{token: expired}, seat, user), "INVALID_BUYER_TOKEN"},
		{"a token for another UUID", c.seat(ctx, harness.ReservePath, cred{token: valid}, seat, "other-"+randomID()), "UUID_MISMATCH"},
		{"a key and a token", c.seat(ctx, harness.ReservePath, cred{key: devKey, token: valid}, seat, user), ""},
		{"the key with holders:read", c.get(ctx, "/seats/get/"+seat, cred{key: devKey}), ""},
		{"a wrong key on a read", c.get(ctx, "/seats/get/"+seat, cred{key: wrongKeys[0]}), "UNAUTHENTICATED"},
		{"a delete with the key", c.do(ctx, http.MethodDelete, "/events/"+event, cred{key: devKey}, nil), ""},
	} {
		if tt.give.Code != tt.want || tt.give.Err != nil {
			t.Errorf("%s: %v, want %q", tt.name, tt.give, tt.want)
		}
	}

	svc.Signal(syscall.SIGTERM)
	if code := svc.Wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	logged := svc.Log()
	for _, tok := range tokens {
		secrets = append(secrets, tok)
		if signature := tok[strings.LastIndexByte(tok, '.')+1:]; signature != "" { // "none" has none
			secrets = append(secrets, signature)
		}
	}
	for _, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("the log holds the secret %q:\n%s", s, logged)
		}
	}
	lines, named := strings.Split(strings.TrimSpace(logged), "\n"), 0
	for _, line := range lines {
		var entry struct{ Msg, Key string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("log line %q: %v", line, err)
		}
		if entry.Msg == "request" && entry.Key == "box-office" {
			named++
		}
	}
	if named == 0 {
		t.Errorf("no request line names the key box-office:\n%s", logged)
	}
	t.Logf("%d log lines, %d of them name the key box-office; none of %d secrets, tokens and signatures in them",
		len(lines), named, len(secrets))
}

// raw sends a request with exactly the headers header, for credentials
// cred cannot express (another scheme, a header twice).
func (c *client) raw(t testing.TB, method, path string, header http.Header, body any) reply {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.url+path, strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	return c.send(req)
}
