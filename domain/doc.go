// Package domain is the specification of the seat rules: events, seats and
// the small state machine (Available, On hold, Reserved) that every store
// implements. It imports nothing of this module and reads no clock: every
// rule takes "now" as an argument, so the rules are the same whether time
// comes from a test, the process or Redis.
package domain
