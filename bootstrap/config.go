// Package bootstrap turns configuration into a running service: it reads
// the settings, builds the logger and assembles the adapters with fx. It is
// the only package that knows every adapter.
package bootstrap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/knadh/koanf/parsers/dotenv"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"go.uber.org/zap/zapcore"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/tracing"
	"github.com/seatres/reservation/domain"
)

// Config is the whole configuration of the service, in the adapters' own
// types.
type Config struct {
	HTTP   httpapi.Config
	Redis  redisstore.Config // no Addrs: the in-memory store
	Hold   domain.HoldPolicy
	Log    LogConfig
	Auth   AuthConfig
	Limits httpapi.Limits // each Rate zero: off
	// MemoryMaxSeats caps the seats of all events of the in-memory store.
	MemoryMaxSeats int
	// StreamMaxLen is how many records of changes each event keeps, in
	// either store.
	StreamMaxLen int
	// StreamMaxSubscribers caps the stream subscribers of the instance.
	StreamMaxSubscribers int
	// EventsMaxPerKey caps the live events of one API key; 0 for no cap.
	EventsMaxPerKey int
	// AdminAddr is where the admin listener (admin.go) listens; "" for
	// none.
	AdminAddr string
	// CORSOrigins are the origins whose pages may call the API from a
	// browser, as httpapi.ParseOrigin returns them; none: no CORS.
	CORSOrigins []string
	// Traces come from the standard OTEL_* variables, not from settings
	// (see tracesConfig).
	Traces tracing.Config
}

// AuthConfig says who may do what: every file empty leaves the service
// open, as the original was.
type AuthConfig struct {
	KeysFile            string // YAML file of API keys and their scopes
	BuyerSecretFile     string // HS256 secret of buyer tokens
	BuyerPublicKeysFile string // PEM Ed25519 public keys of buyer tokens (EdDSA)
	BuyerAudience       string // the aud that buyer tokens must carry; "" checks none
	TrustedProxies      []netip.Prefix
}

// On reports whether any credential is configured, which closes the
// service to anonymous changes.
func (a AuthConfig) On() bool {
	return a.KeysFile != "" || a.BuyerSecretFile != "" || a.BuyerPublicKeysFile != ""
}

// LogConfig chooses the logger.
type LogConfig struct {
	Level  zapcore.Level
	Format string // LogJSON or LogConsole
}

// Log formats.
const (
	LogJSON    = "json"
	LogConsole = "console"
)

// EnvPrefix starts the name of every environment variable of the service.
const EnvPrefix = "RESERVATION_"

// setting is one configuration entry: its environment variable, its key in
// the YAML file, its default, what it means and how it is read.
type setting struct {
	env     string
	key     string
	def     string
	meaning string
	apply   func(c *Config, v any) error
}

// settings is the one table that maps names to keys, for the environment,
// the .env file, error messages and --help. Keys contain no underscores,
// because koanf's own environment mapping would turn them into dots.
var settings = slices.Concat([]setting{
	{"RESERVATION_HTTP_ADDR", "http.addr", ":8080",
		"address the HTTP server listens on",
		func(c *Config, v any) error { return setAddr(&c.HTTP.Addr, v) }},
	{"RESERVATION_SHUTDOWN_TIMEOUT", "shutdownTimeout", "15s",
		"how long in-flight requests may run after SIGTERM/SIGINT",
		func(c *Config, v any) error { return setDuration(&c.HTTP.ShutdownTimeout, v) }},
	{"RESERVATION_HTTP_MAX_CONNS", "http.maxConns", "10000",
		"connections the instance keeps open at once; one more is answered 503 TOO_MANY_CONNECTIONS and closed at once",
		func(c *Config, v any) error { return setPositiveInt(&c.HTTP.MaxConns, v) }},
	{"RESERVATION_HTTP_WRITE_TIMEOUT", "http.writeTimeout", "30s",
		"how long a client has to take each response; a slower reader is cut off",
		func(c *Config, v any) error { return setDuration(&c.HTTP.WriteTimeout, v) }},
	{"RESERVATION_HTTP_MAX_LISTS", "http.maxLists", "16",
		"seat lists (GET /seats/list/{eventId}) the instance answers at once, each from its arrival to the end of its write; one more is answered 503 TOO_MANY_LISTS with Retry-After at once, so that a crowd of seat maps cannot slow the holds",
		func(c *Config, v any) error { return setPositiveInt(&c.HTTP.MaxLists, v) }},
	{"RESERVATION_ADMIN_ADDR", "admin.addr", "",
		"address of the admin listener, which serves Go's profiles (net/http/pprof) at /debug/pprof/ and nothing else; keep it private (e.g. 127.0.0.1:6060); empty: off",
		func(c *Config, v any) error { return setOptionalAddr(&c.AdminAddr, v) }},
	{"RESERVATION_REDIS_ADDRS", "redis.addrs", "",
		"comma-separated host:port of Redis (one for standalone, several for a cluster); empty means the in-memory store",
		func(c *Config, v any) error { return setAddrs(&c.Redis.Addrs, v) }},
	{"RESERVATION_REDIS_TIMEOUT", "redis.timeout", "1s",
		"deadline of each Redis call",
		func(c *Config, v any) error { return setDuration(&c.Redis.Timeout, v) }},
	{"RESERVATION_REDIS_DIAL_TIMEOUT", "redis.dialTimeout", "3s",
		"deadline to connect to Redis",
		func(c *Config, v any) error { return setDuration(&c.Redis.DialTimeout, v) }},
	{"RESERVATION_REDIS_FLUSH_DELAY", "redis.flushDelay", "20us",
		"how long the Redis client may gather commands before it writes them; under load it saves the service and Redis CPU for a few microseconds of latency (0 writes each at once)",
		func(c *Config, v any) error { return setDelay(&c.Redis.FlushDelay, v) }},
	{"RESERVATION_REDIS_REPLICA_ACKS", "redis.replicaAcks", "0",
		"replicas that must have a reservation or a new event (Redis WAIT) before it is confirmed, else 503; set it to the replicas of each master, so that a failover cannot lose a confirmed reservation, whichever replica it promotes",
		func(c *Config, v any) error { return setCount(&c.Redis.ReplicaAcks, v) }},
	{"RESERVATION_REDIS_REPLICA_ACK_TIMEOUT", "redis.replicaAckTimeout", "500ms",
		"how long a reservation waits for those replicas, on top of the Redis call's deadline",
		func(c *Config, v any) error { return setDuration(&c.Redis.ReplicaAckTimeout, v) }},
	{"RESERVATION_HOLD_TTL", "hold.ttl", "60s",
		"how long a hold lasts (Go duration, at least 1ms)",
		func(c *Config, v any) error { return setDuration(&c.Hold.TTL, v) }},
	{"RESERVATION_HOLD_MAX_SEATS", "hold.maxSeats", "6",
		"how many live holds one UUID may have in one event (1 to " + strconv.Itoa(domain.MaxHoldSeats) + ")",
		func(c *Config, v any) error { return setPositiveInt(&c.Hold.MaxSeats, v) }},
	{"RESERVATION_HOLD_MAX_LIFETIME", "hold.maxLifetime", "15m",
		"the longest any hold of a buyer's cart in an event may last from the cart's first hold, however often it is refreshed; a buyer who keeps seats that long may hold none there for one TTL (at least the TTL, or 0 for no cap)",
		func(c *Config, v any) error { return setDelay(&c.Hold.MaxLifetime, v) }},
	{"RESERVATION_AUTH_KEYS_FILE", "auth.keysFile", "",
		"YAML file of API keys (name, hex SHA-256 of the secret, scopes), re-read on SIGHUP; empty: no keys",
		func(c *Config, v any) error { return setString(&c.Auth.KeysFile, v) }},
	{"RESERVATION_AUTH_BUYER_SECRET_FILE", "auth.buyerSecretFile", "",
		"file holding the HS256 secret (at least 32 bytes) of buyer tokens (X-Buyer-Token JWTs); empty: none",
		func(c *Config, v any) error { return setString(&c.Auth.BuyerSecretFile, v) }},
	{"RESERVATION_AUTH_BUYER_PUBLIC_KEYS_FILE", "auth.buyerPublicKeysFile", "",
		"PEM file of Ed25519 public keys that sign buyer tokens (EdDSA), instead of a secret; empty: none",
		func(c *Config, v any) error { return setString(&c.Auth.BuyerPublicKeysFile, v) }},
	{"RESERVATION_AUTH_BUYER_AUDIENCE", "auth.buyerAudience", "",
		"the aud claim buyer tokens must carry; empty checks none",
		func(c *Config, v any) error { return setString(&c.Auth.BuyerAudience, v) }},
	{"RESERVATION_HTTP_TRUSTED_PROXIES", "http.trustedProxies", "",
		"comma-separated IPs or CIDRs of proxies whose X-Forwarded-For names the client (for the IP rate limit); empty trusts none",
		func(c *Config, v any) error { return setPrefixes(&c.Auth.TrustedProxies, v) }},
	{"RESERVATION_HTTP_CORS_ORIGINS", "http.corsOrigins", "",
		"comma-separated origins (scheme://host[:port], no wildcard) whose pages may call the API from a browser (CORS); empty: none",
		func(c *Config, v any) error { return setOrigins(&c.CORSOrigins, v) }},
}, limitSettings("BUYER", "buyer", "seat changes per second one buyer (UUID or token subject) may make", func(c *Config) *domain.Rate { return &c.Limits.Buyer }),
	limitSettings("IP", "ip", "API requests per second from one client IP, but those with a valid API key (which its key's limit counts)", func(c *Config) *domain.Rate { return &c.Limits.IP }),
	limitSettings("KEY", "key", "API requests per second with one API key", func(c *Config) *domain.Rate { return &c.Limits.Key }),
	limitSettings("CREATE", "create", "events one API key (or, without keys, one client IP) may create per minute", func(c *Config) *domain.Rate { return &c.Limits.Create }),
	[]setting{
		{"RESERVATION_EVENTS_MAX_PER_KEY", "events.maxPerKey", "0",
			"live events one API key may have (DELETE /events/{id} frees a place); 0: no cap",
			func(c *Config, v any) error { return setCount(&c.EventsMaxPerKey, v) }},
		{"RESERVATION_STREAM_MAX_LEN", "stream.maxLen", "100000",
			"records of seat changes each event keeps for its stream and GET /events/{eventId}/changes (Redis: at least this many, trimmed in whole blocks of 100); a subscriber or a reader further behind starts again from a snapshot",
			func(c *Config, v any) error { return setPositiveInt(&c.StreamMaxLen, v) }},
		{"RESERVATION_STREAM_MAX_SUBSCRIBERS", "stream.maxSubscribers", "10000",
			"subscribers of the streams of changes (GET /events/{eventId}/stream) the instance serves at once; one more is answered 503 TOO_MANY_SUBSCRIBERS with Retry-After, to reconnect later or to another instance",
			func(c *Config, v any) error { return setPositiveInt(&c.StreamMaxSubscribers, v) }},
		{"RESERVATION_STREAM_MAX_PER_IP", "stream.maxPerIP", "0",
			"streams one client IP (an IPv6 /64) may have open on the instance at once; one more is answered 429 TOO_MANY_STREAMS with Retry-After, so that no script holds every stream; 0: no cap",
			func(c *Config, v any) error { return setCount(&c.HTTP.MaxStreamsPerIP, v) }},
		{"RESERVATION_MEMORY_MAX_SEATS", "memory.maxSeats", "1000000",
			"seats of all events the in-memory store may keep; a create past it is 507 STORE_FULL",
			func(c *Config, v any) error { return setPositiveInt(&c.MemoryMaxSeats, v) }},
		{"RESERVATION_LOG_LEVEL", "log.level", "info",
			"debug, info, warn or error",
			func(c *Config, v any) error { return setLevel(&c.Log.Level, v) }},
		{"RESERVATION_LOG_FORMAT", "log.format", LogJSON,
			"json (one object per line) or console (for people)",
			func(c *Config, v any) error { return setFormat(&c.Log.Format, v) }},
	})

// limitSettings are the rate and the burst of one rate limit.
func limitSettings(env, key, rate string, limit func(*Config) *domain.Rate) []setting {
	return []setting{
		{"RESERVATION_LIMIT_" + env + "_RATE", "limit." + key + ".rate", "0", rate + "; 0: no limit",
			func(c *Config, v any) error { return setCount(&limit(c).Count, v) }},
		{"RESERVATION_LIMIT_" + env + "_BURST", "limit." + key + ".burst", "0", "how many of them at once (0: the rate)",
			func(c *Config, v any) error { return setCount(&limit(c).Burst, v) }},
	}
}

// Sources are where configuration comes from besides the defaults, from
// weakest to strongest.
type Sources struct {
	File    string   // YAML file; "" for none
	DotEnv  string   // .env file; a missing one is skipped
	Environ []string // the environment, as os.Environ returns it
}

// LoadConfig reads the configuration. Its error names every setting that is
// wrong the way the user wrote it (environment variable or YAML key), and
// unknown RESERVATION_ variables or YAML keys are errors, to catch typos.
func LoadConfig(src Sources) (Config, error) {
	k := koanf.New(".")
	// origin maps each key that a source set to the name of the source that
	// set it last; a key it lacks has its default.
	origin := make(map[string]string)
	defaults := make(map[string]any, len(settings))
	for _, s := range settings {
		defaults[s.key] = s.def
	}
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return Config{}, err
	}
	if src.File != "" {
		name := func(key string) string { return src.File + ": " + key }
		if err := merge(k, origin, file.Provider(src.File), yaml.Parser(), name); err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
	}
	if src.DotEnv != "" {
		name := func(key string) string { return src.DotEnv + ": " + envName(key) }
		err := merge(k, origin, file.Provider(src.DotEnv), dotenv.ParserEnvWithValue(EnvPrefix, ".", toKey), name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Config{}, fmt.Errorf("%s: %w", src.DotEnv, err)
		}
	}
	environ := env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		TransformFunc: toKey,
		EnvironFunc:   func() []string { return src.Environ },
	})
	if err := merge(k, origin, environ, nil, envName); err != nil {
		return Config{}, err
	}
	c, err := parse(k, origin)
	if err != nil {
		return Config{}, err
	}
	if c.Traces, err = tracesConfig(src.Environ); err != nil {
		return Config{}, err
	}
	return c, nil
}

// merge loads one source and lays it over k, remembering how the source
// names each key it sets.
func merge(k *koanf.Koanf, origin map[string]string, p koanf.Provider, pa koanf.Parser, name func(key string) string) error {
	layer := koanf.New(".")
	if err := layer.Load(p, pa); err != nil {
		return err
	}
	for _, key := range layer.Keys() {
		origin[key] = name(key)
	}
	return k.Merge(layer)
}

func parse(k *koanf.Koanf, origin map[string]string) (Config, error) {
	var errs []error
	known := make(map[string]bool, len(settings))
	for _, s := range settings {
		known[s.key] = true
	}
	for _, key := range k.Keys() {
		if !known[key] {
			errs = append(errs, fmt.Errorf("%s: unknown setting", origin[key]))
		}
	}
	if len(errs) > 0 {
		// An unknown key may have replaced a known section; report only it.
		return Config{}, errors.Join(errs...)
	}
	var c Config
	for _, s := range settings {
		if err := s.apply(&c, k.Get(s.key)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", origin[s.key], err))
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	// NewHoldPolicy's every error is a *domain.HoldPolicyError.
	policy, err := domain.NewHoldPolicy(c.Hold.TTL, c.Hold.MaxSeats, c.Hold.MaxLifetime)
	if pe := (*domain.HoldPolicyError)(nil); errors.As(err, &pe) {
		return Config{}, holdPolicyError(k, origin, pe)
	}
	c.Hold = policy
	if c.Auth.BuyerSecretFile != "" && c.Auth.BuyerPublicKeysFile != "" {
		return Config{}, fmt.Errorf("%s, %s: set one of them, not both", origin["auth.buyerSecretFile"], origin["auth.buyerPublicKeysFile"])
	}
	c.Limits.Buyer = perPeriod(c.Limits.Buyer, time.Second)
	c.Limits.IP = perPeriod(c.Limits.IP, time.Second)
	c.Limits.Key = perPeriod(c.Limits.Key, time.Second)
	c.Limits.Create = perPeriod(c.Limits.Create, time.Minute)
	return c, nil
}

// holdPolicyKeys are the settings of the fields that a
// domain.HoldPolicyError names, so that its message names their settings.
var holdPolicyKeys = map[string]string{
	domain.HoldTTL:         "hold.ttl",
	domain.HoldMaxSeats:    "hold.maxSeats",
	domain.HoldMaxLifetime: "hold.maxLifetime",
}

// holdPolicyError names the settings of a refused hold policy. A field
// wrong alone is named as the user wrote it (its default is always
// right). A rule between two fields may be broken by either, set or not:
// the message starts with the one that was set (the bound when both were)
// and says where the other's value came from.
func holdPolicyError(k *koanf.Koanf, origin map[string]string, pe *domain.HoldPolicyError) error {
	key := holdPolicyKeys[pe.Field]
	if pe.Bound == "" {
		return fmt.Errorf("%s: invalid %s %q (want %s)", origin[key], pe.Field, fmt.Sprint(k.Get(key)), pe.Want)
	}
	field, bound := valued(k, origin, key), valued(k, origin, holdPolicyKeys[pe.Bound])
	if _, set := origin[holdPolicyKeys[pe.Bound]]; !set {
		return fmt.Errorf("%s is below %s: %s must be %s", field, bound, pe.Field, pe.Want)
	}
	return fmt.Errorf("%s is above %s: %s must be %s", bound, field, pe.Field, pe.Want)
}

// valued is a setting's name and value, for a message. A default, which
// no source set and so no source names, is named by its environment
// variable and marked as the default.
func valued(k *koanf.Koanf, origin map[string]string, key string) string {
	if name, set := origin[key]; set {
		return fmt.Sprintf("%s %v", name, k.Get(key))
	}
	return fmt.Sprintf("%s %v (its default)", envName(key), k.Get(key))
}

// perPeriod completes a limit read as a count and a burst: its period, and
// a burst of the count when none was set.
func perPeriod(r domain.Rate, period time.Duration) domain.Rate {
	if r.Off() {
		return domain.Rate{}
	}
	r.Period = period
	if r.Burst == 0 {
		r.Burst = r.Count
	}
	return r
}

// toKey maps an environment variable to its key. An unknown name keeps its
// own name as key, so that parse reports it as unknown.
func toKey(name, value string) (string, any) {
	for _, s := range settings {
		if s.env == name {
			return s.key, value
		}
	}
	return name, value
}

// envName is the inverse of toKey.
func envName(key string) string {
	for _, s := range settings {
		if s.key == key {
			return s.env
		}
	}
	return key
}

// The scalar setters read the value as text: the environment gives text,
// and YAML's numbers read the same as the environment's.

func setAddr(dst *string, v any) error {
	s := fmt.Sprint(v)
	if _, port, err := net.SplitHostPort(s); err != nil || !validPort(port) {
		return fmt.Errorf("invalid address %q (want host:port or :port)", s)
	}
	*dst = s
	return nil
}

// validPort reports whether port is a TCP port, by number (0 to 65535) or
// by service name, as net.Listen and net.Dial take it: a wrong one would
// fail only when the server starts or dials, far from its setting.
func validPort(port string) bool {
	_, err := net.LookupPort("tcp", port)
	return port != "" && err == nil
}

// setOptionalAddr is setAddr that also takes "", for "off".
func setOptionalAddr(dst *string, v any) error {
	if fmt.Sprint(v) == "" {
		*dst = ""
		return nil
	}
	return setAddr(dst, v)
}

func setDuration(dst *time.Duration, v any) error { return setDurationFrom(dst, v, time.Nanosecond) }

// setDelay is setDuration that also takes 0, for "no delay".
func setDelay(dst *time.Duration, v any) error { return setDurationFrom(dst, v, 0) }

func setDurationFrom(dst *time.Duration, v any, least time.Duration) error {
	s := fmt.Sprint(v)
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 60s, 1m30s)", s)
	}
	if d < least {
		if least > 0 {
			return fmt.Errorf("duration %q must be positive", s)
		}
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*dst = d
	return nil
}

func setString(dst *string, v any) error {
	*dst = strings.TrimSpace(fmt.Sprint(v))
	return nil
}

// listOf is the items of a list setting: a comma-separated string
// (environment) or a YAML list. Nothing, or only spaces, is no item.
func listOf(v any) []string {
	var parts []string
	switch v := v.(type) {
	case nil:
	case []any:
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
	default:
		if s := fmt.Sprint(v); strings.TrimSpace(s) != "" {
			parts = strings.Split(s, ",")
		}
	}
	return parts
}

// setPrefixes accepts IPs and CIDRs, comma-separated or as a YAML list; an
// IP is the prefix of itself alone.
func setPrefixes(dst *[]netip.Prefix, v any) error {
	var out []netip.Prefix
	for _, p := range listOf(v) {
		p = strings.TrimSpace(p)
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, err := netip.ParseAddr(p)
			if err != nil {
				return fmt.Errorf("invalid IP or CIDR %q", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, prefix)
	}
	*dst = out
	return nil
}

func setPositiveInt(dst *int, v any) error { return setIntFrom(dst, v, 1) }

// setCount is setPositiveInt that also takes 0, for "none".
func setCount(dst *int, v any) error { return setIntFrom(dst, v, 0) }

func setIntFrom(dst *int, v any, least int) error {
	s := fmt.Sprint(v)
	n, err := strconv.Atoi(s)
	if err != nil || n < least {
		kind := "a positive integer"
		if least == 0 {
			kind = "0 or more"
		}
		return fmt.Errorf("invalid number %q (want %s)", s, kind)
	}
	*dst = n
	return nil
}

// setAddrs accepts a comma-separated string (environment) or a list (YAML);
// nothing means no Redis. Redis addresses need a host.
func setAddrs(dst *[]string, v any) error {
	parts := listOf(v)
	addrs := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if host, port, err := net.SplitHostPort(p); err != nil || host == "" || !validPort(port) {
			return fmt.Errorf("invalid address %q (want host:port)", p)
		}
		addrs = append(addrs, p)
	}
	if len(addrs) > 0 {
		*dst = addrs
	}
	return nil
}

// setOrigins accepts the origins of CORS, comma-separated or as a YAML
// list, each as a browser sends it (see httpapi.ParseOrigin).
func setOrigins(dst *[]string, v any) error {
	var out []string
	for _, p := range listOf(v) {
		origin, err := httpapi.ParseOrigin(strings.TrimSpace(p))
		if err != nil {
			return err
		}
		out = append(out, origin)
	}
	*dst = out
	return nil
}

// setLevel takes the four levels the service logs at: zap's higher ones
// (dpanic, panic, fatal) would hide every error the service logs.
func setLevel(dst *zapcore.Level, v any) error {
	s := fmt.Sprint(v)
	l, err := zapcore.ParseLevel(s)
	if err != nil || l > zapcore.ErrorLevel {
		return fmt.Errorf("invalid log level %q (want debug, info, warn or error)", s)
	}
	*dst = l
	return nil
}

func setFormat(dst *string, v any) error {
	s := fmt.Sprint(v)
	if s != LogJSON && s != LogConsole {
		return fmt.Errorf("invalid log format %q (want %s or %s)", s, LogJSON, LogConsole)
	}
	*dst = s
	return nil
}

// PrintSettings writes the table of settings, for --help. A help text that
// cannot be written has nowhere to report it, so it returns no error.
func PrintSettings(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tYAML KEY\tDEFAULT\tMEANING")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.env, s.key, def, s.meaning)
	}
	tw.Flush()
}
