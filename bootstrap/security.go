package bootstrap

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/application"
)

// security provides the HTTP API's guard from cfg: API keys (re-read on
// SIGHUP), buyer tokens, rate limits on the store's limiter, the trusted
// proxies and the origins of CORS. With no credential configured the
// service runs open, as the original did, and says so once.
func security(cfg Config) fx.Option {
	return fx.Provide(func(lc fx.Lifecycle, log *zap.Logger, limiter application.Limiter) (httpapi.Options, error) {
		var opts httpapi.Options
		a := cfg.Auth
		if !a.On() {
			log.Warn("running open: no API keys or buyer tokens are configured, so anyone who reaches the port may create events and change any buyer's seats; see the README's Security section")
		}
		if a.KeysFile != "" {
			keys, err := identity.LoadKeys(a.KeysFile)
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithCancel(context.Background())
			lc.Append(fx.StartStopHook(func() { keys.WatchSIGHUP(ctx, log.Named("keys")) }, cancel))
			log.Info("API keys on", zap.Int("count", keys.Len()), zap.Strings("names", keys.Names()))
			opts = append(opts, httpapi.WithKeys(keys))
		}
		if a.BuyerSecretFile != "" || a.BuyerPublicKeysFile != "" {
			tokens, err := identity.NewTokens(identity.TokenConfig{
				SecretFile:     a.BuyerSecretFile,
				PublicKeysFile: a.BuyerPublicKeysFile,
				Audience:       a.BuyerAudience,
			})
			if err != nil {
				return nil, err
			}
			log.Info("buyer tokens on", zap.Bool("shared secret", a.BuyerSecretFile != ""), zap.String("audience", a.BuyerAudience))
			opts = append(opts, httpapi.WithBuyerTokens(tokens))
		}
		// Limits that are all off leave the guard without a limiter.
		opts = append(opts, httpapi.WithLimiter(limiter, cfg.Limits))
		if len(a.TrustedProxies) > 0 {
			opts = append(opts, httpapi.WithTrustedProxies(a.TrustedProxies))
		}
		if len(cfg.CORSOrigins) > 0 {
			log.Info("CORS on", zap.Strings("origins", cfg.CORSOrigins))
			opts = append(opts, httpapi.WithCORS(cfg.CORSOrigins))
		}
		return opts, nil
	})
}
