// Package tlsutil owns the server's TLS material. In "auto" mode it keeps a
// private certificate authority and a serving certificate signed by it in
// the data dir (keys mode 0600), creating them on first start and renewing
// the serving certificate when it nears expiry or the hosts it must name
// change; clients trust the CA (GET /ca.crt, `hks login --ca-file`). In
// "files" mode it loads an operator's certificate and key.
package tlsutil
