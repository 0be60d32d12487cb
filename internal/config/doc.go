// Package config owns the server configuration: defaults, an optional YAML
// file, HKS_* environment variables and command-line flags (in rising
// precedence), and validation that names the bad field.
package config
