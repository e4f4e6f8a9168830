// Package api holds the service's HTTP contract, api/openapi.yaml, built into
// the binary so the running service serves the document it was built with.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document of the HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte
