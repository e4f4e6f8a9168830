// Command buyertoken mints a buyer token (an HS256 JWT) the way a ticketing
// site's back end would, for trying the service with buyer tokens on and
// for load tests. A real site signs its tokens in its own code; this
// command is not part of the service.
//
//	buyertoken -secret-file deployments/k8s/base/auth/buyer-secret -sub alice
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatres/reservation/adapters/identity"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "buyertoken:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("buyertoken", flag.ContinueOnError)
	fs.SetOutput(out)
	secretFile := fs.String("secret-file", "", "file holding the shared HS256 secret (RESERVATION_AUTH_BUYER_SECRET_FILE)")
	sub := fs.String("sub", "", "the buyer's UUID, the token's subject")
	ttl := fs.Duration("ttl", 15*time.Minute, "how long the token is valid")
	aud := fs.String("aud", "", "audience (RESERVATION_AUTH_BUYER_AUDIENCE), if the service checks one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secretFile == "" || *sub == "" || *ttl <= 0 {
		return errors.New("-secret-file and -sub are required, and -ttl must be positive")
	}
	secret, err := identity.ReadSecret(*secretFile) // as the service reads it
	if err != nil {
		return err
	}
	claims := jwt.RegisteredClaims{
		Subject:   *sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(*ttl)),
	}
	if *aud != "" {
		claims.Audience = jwt.ClaimStrings{*aud}
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, token)
	return err
}
