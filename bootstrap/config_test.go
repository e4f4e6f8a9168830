package bootstrap

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/domain"
)

// sources writes the given YAML and .env contents ("" for no file) into a
// fresh directory and names them, with environ.
func sources(t *testing.T, yaml, dotenv string, environ ...string) Sources {
	t.Helper()
	dir := t.TempDir()
	src := Sources{DotEnv: filepath.Join(dir, ".env"), Environ: environ}
	if yaml != "" {
		src.File = filepath.Join(dir, "config.yaml")
		writeFile(t, src.File, yaml)
	}
	if dotenv != "" {
		writeFile(t, src.DotEnv, dotenv)
	}
	return src
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	got, err := LoadConfig(sources(t, "", "", "PATH=/bin", "HOME=/root"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTP:  httpapi.Config{Addr: ":8080", ShutdownTimeout: 15 * time.Second, MaxConns: 10_000, WriteTimeout: 30 * time.Second, MaxLists: 16},
		Redis: redisstore.Config{Timeout: time.Second, DialTimeout: 3 * time.Second, FlushDelay: 20 * time.Microsecond, ReplicaAckTimeout: 500 * time.Millisecond},
		Hold:  domain.HoldPolicy{TTL: 60 * time.Second, MaxSeats: 6, MaxLifetime: 15 * time.Minute},
		Log:   LogConfig{Level: zapcore.InfoLevel, Format: LogJSON},
		// Open, as the original service: no credential, no limit.
		MemoryMaxSeats: 1_000_000,
		StreamMaxLen:   100_000,
		// The stream's cap.
		StreamMaxSubscribers: 10_000,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadConfig() = %+v, want %+v", got, want)
	}
}

func TestLoadConfigEverySetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  func(t *testing.T) Sources
	}{
		{"environment", func(t *testing.T) Sources {
			return sources(t, "", "",
				"RESERVATION_HTTP_ADDR=127.0.0.1:9000",
				"RESERVATION_SHUTDOWN_TIMEOUT=2s",
				"RESERVATION_REDIS_ADDRS=r1:7000, r2:7001",
				"RESERVATION_REDIS_TIMEOUT=250ms",
				"RESERVATION_REDIS_DIAL_TIMEOUT=5s",
				"RESERVATION_REDIS_FLUSH_DELAY=0s",
				"RESERVATION_REDIS_REPLICA_ACKS=1",
				"RESERVATION_REDIS_REPLICA_ACK_TIMEOUT=2s",
				"RESERVATION_HOLD_TTL=90s",
				"RESERVATION_HOLD_MAX_SEATS=4",
				"RESERVATION_HOLD_MAX_LIFETIME=0",
				"RESERVATION_LOG_LEVEL=debug",
				"RESERVATION_LOG_FORMAT=console",
				"RESERVATION_AUTH_KEYS_FILE=/etc/r/keys.yaml",
				"RESERVATION_AUTH_BUYER_PUBLIC_KEYS_FILE=/etc/r/buyers.pem",
				"RESERVATION_AUTH_BUYER_AUDIENCE=tickets",
				"RESERVATION_HTTP_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.7",
				"RESERVATION_LIMIT_BUYER_RATE=5",
				"RESERVATION_LIMIT_BUYER_BURST=10",
				"RESERVATION_LIMIT_IP_RATE=100",
				"RESERVATION_LIMIT_KEY_RATE=2000",
				"RESERVATION_LIMIT_KEY_BURST=4000",
				"RESERVATION_LIMIT_CREATE_RATE=60",
				"RESERVATION_LIMIT_CREATE_BURST=5",
				"RESERVATION_EVENTS_MAX_PER_KEY=100",
				"RESERVATION_MEMORY_MAX_SEATS=50000",
				"RESERVATION_STREAM_MAX_LEN=5000",
				"RESERVATION_STREAM_MAX_SUBSCRIBERS=300",
				"RESERVATION_STREAM_MAX_PER_IP=40",
				"RESERVATION_HTTP_MAX_CONNS=500",
			)
		}},
		{"yaml", func(t *testing.T) Sources {
			return sources(t, `
http:
  addr: 127.0.0.1:9000
  trustedProxies: [10.0.0.0/8, 192.0.2.7]
  maxConns: 500
shutdownTimeout: 2s
redis:
  addrs: [r1:7000, r2:7001]
  timeout: 250ms
  dialTimeout: 5s
  flushDelay: 0s
  replicaAcks: 1
  replicaAckTimeout: 2s
hold:
  ttl: 90s
  maxSeats: 4
  maxLifetime: 0s
log:
  level: debug
  format: console
auth:
  keysFile: /etc/r/keys.yaml
  buyerPublicKeysFile: /etc/r/buyers.pem
  buyerAudience: tickets
limit:
  buyer: {rate: 5, burst: 10}
  ip: {rate: 100}
  key: {rate: 2000, burst: 4000}
  create: {rate: 60, burst: 5}
events:
  maxPerKey: 100
memory:
  maxSeats: 50000
stream:
  maxLen: 5000
  maxSubscribers: 300
  maxPerIP: 40
`, "")
		}},
		{"dotenv", func(t *testing.T) Sources {
			return sources(t, "", `
# comments and other programs' variables are allowed
OTHER_TOOL=1
RESERVATION_HTTP_ADDR=127.0.0.1:9000
RESERVATION_SHUTDOWN_TIMEOUT=2s
RESERVATION_REDIS_ADDRS="r1:7000,r2:7001"
RESERVATION_REDIS_TIMEOUT=250ms
RESERVATION_REDIS_DIAL_TIMEOUT=5s
RESERVATION_REDIS_FLUSH_DELAY=0s
RESERVATION_REDIS_REPLICA_ACKS=1
RESERVATION_REDIS_REPLICA_ACK_TIMEOUT=2s
RESERVATION_HOLD_TTL=90s
RESERVATION_HOLD_MAX_SEATS=4
RESERVATION_HOLD_MAX_LIFETIME=0s
RESERVATION_LOG_LEVEL=debug
RESERVATION_LOG_FORMAT=console
RESERVATION_AUTH_KEYS_FILE=/etc/r/keys.yaml
RESERVATION_AUTH_BUYER_PUBLIC_KEYS_FILE=/etc/r/buyers.pem
RESERVATION_AUTH_BUYER_AUDIENCE=tickets
RESERVATION_HTTP_TRUSTED_PROXIES="10.0.0.0/8,192.0.2.7"
RESERVATION_LIMIT_BUYER_RATE=5
RESERVATION_LIMIT_BUYER_BURST=10
RESERVATION_LIMIT_IP_RATE=100
RESERVATION_LIMIT_KEY_RATE=2000
RESERVATION_LIMIT_KEY_BURST=4000
RESERVATION_LIMIT_CREATE_RATE=60
RESERVATION_LIMIT_CREATE_BURST=5
RESERVATION_EVENTS_MAX_PER_KEY=100
RESERVATION_MEMORY_MAX_SEATS=50000
RESERVATION_STREAM_MAX_LEN=5000
RESERVATION_STREAM_MAX_SUBSCRIBERS=300
RESERVATION_STREAM_MAX_PER_IP=40
RESERVATION_HTTP_MAX_CONNS=500
`)
		}},
	}
	want := Config{
		HTTP: httpapi.Config{Addr: "127.0.0.1:9000", ShutdownTimeout: 2 * time.Second, MaxConns: 500, WriteTimeout: 30 * time.Second, MaxLists: 16, MaxStreamsPerIP: 40},
		Redis: redisstore.Config{Addrs: []string{"r1:7000", "r2:7001"}, Timeout: 250 * time.Millisecond, DialTimeout: 5 * time.Second,
			ReplicaAcks: 1, ReplicaAckTimeout: 2 * time.Second},
		Hold: domain.HoldPolicy{TTL: 90 * time.Second, MaxSeats: 4}, // 0: no lifetime cap
		Log:  LogConfig{Level: zapcore.DebugLevel, Format: LogConsole},
		Auth: AuthConfig{KeysFile: "/etc/r/keys.yaml", BuyerPublicKeysFile: "/etc/r/buyers.pem", BuyerAudience: "tickets",
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}},
		Limits: httpapi.Limits{
			Buyer:  domain.Rate{Count: 5, Period: time.Second, Burst: 10},
			IP:     domain.Rate{Count: 100, Period: time.Second, Burst: 100},
			Key:    domain.Rate{Count: 2000, Period: time.Second, Burst: 4000},
			Create: domain.Rate{Count: 60, Period: time.Minute, Burst: 5},
		},
		EventsMaxPerKey: 100,
		MemoryMaxSeats:  50000,
		StreamMaxLen:    5000,
		// The stream's cap.
		StreamMaxSubscribers: 300,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadConfig(tt.src(t))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LoadConfig() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	t.Parallel()
	const (
		yaml   = "hold:\n  ttl: 2s\n"
		dotenv = "RESERVATION_HOLD_TTL=3s\n"
		env    = "RESERVATION_HOLD_TTL=4s"
	)
	tests := []struct {
		name              string
		yaml, dotenv, env string
		want              time.Duration
	}{
		{name: "default", want: 60 * time.Second},
		{name: "file over default", yaml: yaml, want: 2 * time.Second},
		{name: "dotenv over file", yaml: yaml, dotenv: dotenv, want: 3 * time.Second},
		{name: "environment over file", yaml: yaml, env: env, want: 4 * time.Second},
		{name: "environment over dotenv", dotenv: dotenv, env: env, want: 4 * time.Second},
		{name: "environment over all", yaml: yaml, dotenv: dotenv, env: env, want: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var environ []string
			if tt.env != "" {
				environ = append(environ, tt.env)
			}
			got, err := LoadConfig(sources(t, tt.yaml, tt.dotenv, environ...))
			if err != nil {
				t.Fatal(err)
			}
			if got.Hold.TTL != tt.want {
				t.Errorf("hold TTL = %v, want %v", got.Hold.TTL, tt.want)
			}
			// Layers override key by key: the rest keeps its default.
			if got.Hold.MaxSeats != 6 {
				t.Errorf("hold max seats = %d, want the default 6", got.Hold.MaxSeats)
			}
		})
	}
}

func TestLoadConfigInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		yaml, dotenv string
		env          []string
		want         []string // each must appear in the error
		exact        string   // the whole error, when it must name one setting alone
	}{
		{name: "http addr", env: []string{"RESERVATION_HTTP_ADDR=8080"},
			want: []string{`RESERVATION_HTTP_ADDR: invalid address "8080"`}},
		{name: "http port past 65535", env: []string{"RESERVATION_HTTP_ADDR=:99999"},
			exact: `RESERVATION_HTTP_ADDR: invalid address ":99999" (want host:port or :port)`},
		{name: "admin port not a port", env: []string{"RESERVATION_ADMIN_ADDR=127.0.0.1:sixty"},
			want: []string{`RESERVATION_ADMIN_ADDR: invalid address "127.0.0.1:sixty"`}},
		{name: "redis port past 65535", env: []string{"RESERVATION_REDIS_ADDRS=r1:7000,r2:70000"},
			want: []string{`RESERVATION_REDIS_ADDRS: invalid address "r2:70000"`}},
		{name: "shutdown timeout", env: []string{"RESERVATION_SHUTDOWN_TIMEOUT=soon"},
			want: []string{`RESERVATION_SHUTDOWN_TIMEOUT: invalid duration "soon"`}},
		{name: "redis addr without port", env: []string{"RESERVATION_REDIS_ADDRS=localhost"},
			want: []string{`RESERVATION_REDIS_ADDRS: invalid address "localhost"`}},
		{name: "redis addr without host", env: []string{"RESERVATION_REDIS_ADDRS=:6379"},
			want: []string{`RESERVATION_REDIS_ADDRS: invalid address ":6379"`}},
		{name: "empty redis addr in list", env: []string{"RESERVATION_REDIS_ADDRS=a:1,,b:2"},
			want: []string{`RESERVATION_REDIS_ADDRS: invalid address ""`}},
		{name: "zero redis timeout", env: []string{"RESERVATION_REDIS_TIMEOUT=0s"},
			want: []string{`RESERVATION_REDIS_TIMEOUT: duration "0s" must be positive`}},
		{name: "negative dial timeout", env: []string{"RESERVATION_REDIS_DIAL_TIMEOUT=-1s"},
			want: []string{`RESERVATION_REDIS_DIAL_TIMEOUT: duration "-1s" must be positive`}},
		{name: "negative flush delay", env: []string{"RESERVATION_REDIS_FLUSH_DELAY=-1us"},
			want: []string{`RESERVATION_REDIS_FLUSH_DELAY: duration "-1us" must not be negative`}},
		{name: "negative replica acks", env: []string{"RESERVATION_REDIS_REPLICA_ACKS=-1"},
			want: []string{`RESERVATION_REDIS_REPLICA_ACKS: invalid number "-1" (want 0 or more)`}},
		{name: "hold ttl", env: []string{"RESERVATION_HOLD_TTL=abc"},
			want: []string{`RESERVATION_HOLD_TTL: invalid duration "abc"`}},
		{name: "hold ttl without unit", env: []string{"RESERVATION_HOLD_TTL=60"},
			want: []string{`RESERVATION_HOLD_TTL: invalid duration "60"`}},
		{name: "hold ttl below the domain's minimum", env: []string{"RESERVATION_HOLD_TTL=500us"},
			exact: `RESERVATION_HOLD_TTL: invalid hold TTL "500us" (want at least 1ms)`},
		{name: "hold ttl below the minimum in yaml", yaml: "hold:\n  ttl: 500us\n",
			want: []string{`config.yaml: hold.ttl: invalid hold TTL "500us" (want at least 1ms)`}},
		// The cap rule holds between two settings: the message starts with
		// the one that was set and says where the other's value came from.
		{name: "lifetime cap below the ttl", env: []string{"RESERVATION_HOLD_TTL=2m", "RESERVATION_HOLD_MAX_LIFETIME=1m"},
			exact: `RESERVATION_HOLD_TTL 2m is above RESERVATION_HOLD_MAX_LIFETIME 1m: max lifetime must be 0 for no cap, or at least the hold TTL`},
		{name: "ttl alone above the default cap", env: []string{"RESERVATION_HOLD_TTL=1h"},
			exact: `RESERVATION_HOLD_TTL 1h is above RESERVATION_HOLD_MAX_LIFETIME 15m (its default): max lifetime must be 0 for no cap, or at least the hold TTL`},
		{name: "cap alone below the default ttl", env: []string{"RESERVATION_HOLD_MAX_LIFETIME=30s"},
			exact: `RESERVATION_HOLD_MAX_LIFETIME 30s is below RESERVATION_HOLD_TTL 60s (its default): max lifetime must be 0 for no cap, or at least the hold TTL`},
		{name: "ttl in yaml above the default cap", yaml: "hold:\n  ttl: 1h\n",
			want: []string{`config.yaml: hold.ttl 1h is above RESERVATION_HOLD_MAX_LIFETIME 15m (its default): max lifetime`}},
		{name: "negative lifetime cap", env: []string{"RESERVATION_HOLD_MAX_LIFETIME=-1m"},
			want: []string{`RESERVATION_HOLD_MAX_LIFETIME: duration "-1m" must not be negative`}},
		{name: "zero max seats", env: []string{"RESERVATION_HOLD_MAX_SEATS=0"},
			want: []string{`RESERVATION_HOLD_MAX_SEATS: invalid number "0"`}},
		{name: "fractional max seats", env: []string{"RESERVATION_HOLD_MAX_SEATS=2.5"},
			want: []string{`RESERVATION_HOLD_MAX_SEATS: invalid number "2.5"`}},
		{name: "log level", env: []string{"RESERVATION_LOG_LEVEL=loud"},
			want: []string{`RESERVATION_LOG_LEVEL: invalid log level "loud"`}},
		{name: "log level zap knows but the service does not log at", env: []string{"RESERVATION_LOG_LEVEL=fatal"},
			exact: `RESERVATION_LOG_LEVEL: invalid log level "fatal" (want debug, info, warn or error)`},
		{name: "log format", env: []string{"RESERVATION_LOG_FORMAT=xml"},
			want: []string{`RESERVATION_LOG_FORMAT: invalid log format "xml"`}},
		{name: "both kinds of buyer token keys", env: []string{"RESERVATION_AUTH_BUYER_SECRET_FILE=/s", "RESERVATION_AUTH_BUYER_PUBLIC_KEYS_FILE=/p"},
			want: []string{"RESERVATION_AUTH_BUYER_SECRET_FILE, RESERVATION_AUTH_BUYER_PUBLIC_KEYS_FILE: set one of them, not both"}},
		{name: "trusted proxy", env: []string{"RESERVATION_HTTP_TRUSTED_PROXIES=10.0.0.0/8,proxy.local"},
			want: []string{`RESERVATION_HTTP_TRUSTED_PROXIES: invalid IP or CIDR "proxy.local"`}},
		{name: "negative rate", env: []string{"RESERVATION_LIMIT_BUYER_RATE=-1"},
			want: []string{`RESERVATION_LIMIT_BUYER_RATE: invalid number "-1" (want 0 or more)`}},
		{name: "zero memory seats", env: []string{"RESERVATION_MEMORY_MAX_SEATS=0"},
			want: []string{`RESERVATION_MEMORY_MAX_SEATS: invalid number "0"`}},
		{name: "every wrong variable is named", env: []string{"RESERVATION_HOLD_TTL=abc", "RESERVATION_LOG_LEVEL=loud"},
			want: []string{"RESERVATION_HOLD_TTL:", "RESERVATION_LOG_LEVEL:"}},
		{name: "unknown variable", env: []string{"RESERVATION_HOLD_TTLL=5s"},
			want: []string{"RESERVATION_HOLD_TTLL: unknown setting"}},
		{name: "unknown variable in dotenv", dotenv: "RESERVATION_REDIS_ADDR=r:6379\n",
			want: []string{".env: RESERVATION_REDIS_ADDR: unknown setting"}},
		{name: "invalid value in dotenv", dotenv: "RESERVATION_HOLD_TTL=abc\n",
			want: []string{`.env: RESERVATION_HOLD_TTL: invalid duration "abc"`}},
		{name: "unknown yaml key", yaml: "hold:\n  maxseats: 3\n",
			want: []string{"config.yaml: hold.maxseats: unknown setting"}},
		{name: "yaml scalar in place of a section", yaml: "hold: 3\n",
			want: []string{"config.yaml: hold: unknown setting"}},
		{name: "invalid yaml value", yaml: "hold:\n  ttl: abc\n",
			want: []string{`config.yaml: hold.ttl: invalid duration "abc"`}},
		{name: "invalid yaml address list", yaml: "redis:\n  addrs: [r1:7000, r2]\n",
			want: []string{`config.yaml: redis.addrs: invalid address "r2"`}},
		{name: "malformed yaml", yaml: "hold: [",
			want: []string{"config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(sources(t, tt.yaml, tt.dotenv, tt.env...))
			if err == nil {
				t.Fatal("LoadConfig() succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfig() error %q does not contain %q", err, w)
				}
			}
			if tt.exact != "" && err.Error() != tt.exact {
				t.Errorf("LoadConfig() error %q, want %q", err, tt.exact)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(Sources{File: filepath.Join(t.TempDir(), "absent.yaml")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadConfig() error = %v, want one wrapping os.ErrNotExist", err)
	}
}
