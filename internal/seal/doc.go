// Package seal owns the platform's master key and the encryption of secrets
// at rest (signing keys, TOTP secrets, provider credentials, kubeconfigs).
//
// The master key is 32 bytes, taken from HKS_MASTER_KEY (base64) or from
// <data-dir>/master.key, which is created once with mode 0600. A Sealer
// encrypts with AES-256-GCM; every sealed value carries a format version, a
// short identifier of the key that sealed it (so opening with another master
// key fails with ErrWrongKey rather than a generic error) and a random nonce.
package seal
